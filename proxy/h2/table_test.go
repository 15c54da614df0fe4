package h2

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// wireRow is one conformance case: after the handshake, send writes frames
// and the server must show one of want (or pass check).
type wireRow struct {
	name     string
	settings []http2.Setting // the client's first SETTINGS
	send     func(w *wireClient)
	want     []wireOutcome
	check    func(w *wireClient) error // instead of want
	// xnetDeviates: x/net's server is known not to do what the RFC says
	// here; its run logs the difference instead of failing.
	xnetDeviates bool
}

// verify waits for the row's wireOutcome. A stream error must leave the
// connection usable.
func (r wireRow) verify(w *wireClient) error {
	if r.check != nil {
		return r.check(w)
	}
	got, err := w.expectErr(r.want...)
	if err != nil {
		return err
	}
	if len(r.want) > 1 {
		w.t.Logf("wireOutcome: %v", got)
	}
	if got.kind == outStreamErr {
		if _, err := w.expectErr(wantAlive()); err != nil {
			return fmt.Errorf("after %v, the connection must stay usable: %v", got, err)
		}
	}
	return nil
}

// runWireRows runs every row against every server under test, each on its
// own connection.
func runWireRows(t *testing.T, rows []wireRow) {
	forEachServer(t, func(t *testing.T, serve serverUnderTest, xnet bool) {
		sw := &serveWaiter{}
		defer sw.wait(t)
		for _, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				w := startWire(t, serve, r.settings...)
				w.waiter = sw
				r.send(w)
				err := r.verify(w)
				switch {
				case err == nil && r.xnetDeviates && xnet:
					t.Logf("x/net now does what RFC 9113 requires here: drop xnetDeviates")
				case err == nil:
				case r.xnetDeviates && xnet:
					t.Logf("x/net deviates from RFC 9113 (known, not asserted): %v", err)
				default:
					t.Fatal(err)
				}
			})
		}
	})
}

// streamState brings stream 1 into one RFC 9113 §5.1 state.
type streamState struct {
	name  string
	setup func(w *wireClient)
}

var streamStates = []streamState{
	{"idle", func(*wireClient) {}},
	// open: a POST whose body has not ended; the handler waits for it.
	{"open", func(w *wireClient) { w.request(1, false, reqFields("POST", "/")...) }},
	// half-closed (remote): END_STREAM sent; /hold never answers.
	{"half-closed-remote", func(w *wireClient) { w.request(1, true, reqFields("GET", "/hold")...) }},
	// closed after END_STREAM both ways: the whole response was read.
	{"closed", func(w *wireClient) {
		w.request(1, true, reqFields("GET", "/")...)
		w.expect(wantStatus(1, "200"))
		w.expectBody(1)
	}},
	// closed by the client's RST_STREAM, which the server has processed.
	{"closed-by-rst", func(w *wireClient) {
		w.request(1, false, reqFields("POST", "/")...)
		w.rst(1, http2.ErrCodeCancel)
		w.expect(wantAlive())
	}},
}

// stateFrames are the frames sent on stream 1 in each state. HEADERS is a
// request head where the stream has none yet (idle, and the closed states,
// where it reuses the id) and trailers with END_STREAM where it is open.
var stateFrames = []struct {
	name string
	send func(w *wireClient, state string)
}{
	{"DATA", func(w *wireClient, _ string) { w.data(1, true, []byte("x")) }},
	{"HEADERS", func(w *wireClient, state string) {
		if state == "open" || state == "half-closed-remote" {
			w.headers(1, wireHdr{endStream: true}, w.block("x-trailer", "1"))
			return
		}
		w.request(1, true, reqFields("GET", "/")...)
	}},
	{"PRIORITY", func(w *wireClient, _ string) { w.priority(1, http2.PriorityParam{Weight: 15}) }},
	{"RST_STREAM", func(w *wireClient, _ string) { w.rst(1, http2.ErrCodeCancel) }},
	{"SETTINGS", func(w *wireClient, _ string) { w.raw(http2.FrameSettings, 0, 1, []byte{0, 4, 0, 0, 0xff, 0xff}) }},
	{"PUSH_PROMISE", func(w *wireClient, _ string) { w.pushPromise(1, 2, w.block(reqFields("GET", "/")...)) }},
	{"PING", func(w *wireClient, _ string) { w.raw(http2.FramePing, 0, 1, make([]byte, 8)) }},
	{"GOAWAY", func(w *wireClient, _ string) { w.goAway(1, 0, http2.ErrCodeNo) }},
	{"WINDOW_UPDATE", func(w *wireClient, _ string) { w.windowUpdate(1, 1) }},
	{"CONTINUATION", func(w *wireClient, _ string) { w.continuation(1, true, w.block("x-a", "b")) }},
	{"unknown", func(w *wireClient, _ string) { w.unknownFrame(1) }},
}

var (
	wantProtoConn = []wireOutcome{wantConnErr(http2.ErrCodeProtocol)}
	wantIgnored   = []wireOutcome{wantAlive()}
	closedReuse   = []wireOutcome{wantStreamErr(1, http2.ErrCodeStreamClosed), wantConnErr(http2.ErrCodeStreamClosed), wantConnErr(http2.ErrCodeProtocol)}
)

// stateTable is RFC 9113's answer for each state × frame. Frames whose
// rule does not depend on the state (SETTINGS, PING, GOAWAY on a stream,
// PUSH_PROMISE from a client, CONTINUATION without HEADERS, unknown types)
// repeat in every state on purpose: a state machine must not change them.
var stateTable = map[[2]string][]wireOutcome{
	// idle: §5.1 "Receiving any frame other than HEADERS or PRIORITY on a
	// stream in this state MUST be treated as a connection error of type
	// PROTOCOL_ERROR".
	{"idle", "DATA"}:          wantProtoConn,          // §5.1 idle, §6.1
	{"idle", "HEADERS"}:       {wantStatus(1, "200")}, // §5.1 idle: HEADERS opens the stream
	{"idle", "PRIORITY"}:      wantIgnored,            // §5.1 idle allows PRIORITY; §5.3.2 it carries no obligation
	{"idle", "RST_STREAM"}:    wantProtoConn,          // §6.4 RST_STREAM on an idle stream
	{"idle", "SETTINGS"}:      wantProtoConn,          // §6.5 stream identifier other than 0
	{"idle", "PUSH_PROMISE"}:  wantProtoConn,          // §8.4 a server MUST treat PUSH_PROMISE as PROTOCOL_ERROR; §6.6
	{"idle", "PING"}:          wantProtoConn,          // §6.7 stream identifier other than 0
	{"idle", "GOAWAY"}:        wantProtoConn,          // §6.8 stream identifier other than 0
	{"idle", "WINDOW_UPDATE"}: wantProtoConn,          // §5.1 idle: only HEADERS or PRIORITY
	{"idle", "CONTINUATION"}:  wantProtoConn,          // §6.10 not preceded by HEADERS without END_HEADERS
	{"idle", "unknown"}:       wantIgnored,            // §5.5 unknown frame types MUST be wantIgnored
	{"open", "DATA"}:          {wantStatus(1, "200")}, // §5.1 open: DATA with END_STREAM ends the request
	{"open", "HEADERS"}:       {wantStatus(1, "200")}, // §8.1 trailers: HEADERS with END_STREAM
	{"open", "PRIORITY"}:      wantIgnored,            // §5.1, §6.3 PRIORITY in any state
	{"open", "RST_STREAM"}:    wantIgnored,            // §6.4 closes the stream; §5.4.2 no RST_STREAM in answer
	{"open", "SETTINGS"}:      wantProtoConn,          // §6.5
	{"open", "PUSH_PROMISE"}:  wantProtoConn,          // §8.4
	{"open", "PING"}:          wantProtoConn,          // §6.7
	{"open", "GOAWAY"}:        wantProtoConn,          // §6.8
	{"open", "WINDOW_UPDATE"}: wantIgnored,            // §6.9 valid on an open stream
	{"open", "CONTINUATION"}:  wantProtoConn,          // §6.10
	{"open", "unknown"}:       wantIgnored,            // §5.5
	// half-closed (remote): §5.1 "If an endpoint receives additional
	// frames, other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a
	// stream that is in this state, it MUST respond with a stream error
	// of type STREAM_CLOSED".
	{"half-closed-remote", "DATA"}:          {wantStreamErr(1, http2.ErrCodeStreamClosed)}, // §5.1, §6.1
	{"half-closed-remote", "HEADERS"}:       {wantStreamErr(1, http2.ErrCodeStreamClosed)}, // §5.1
	{"half-closed-remote", "PRIORITY"}:      wantIgnored,                                   // §5.1
	{"half-closed-remote", "RST_STREAM"}:    wantIgnored,                                   // §5.1, §5.4.2
	{"half-closed-remote", "SETTINGS"}:      wantProtoConn,                                 // §6.5
	{"half-closed-remote", "PUSH_PROMISE"}:  wantProtoConn,                                 // §8.4
	{"half-closed-remote", "PING"}:          wantProtoConn,                                 // §6.7
	{"half-closed-remote", "GOAWAY"}:        wantProtoConn,                                 // §6.8
	{"half-closed-remote", "WINDOW_UPDATE"}: wantIgnored,                                   // §5.1, §6.9
	{"half-closed-remote", "CONTINUATION"}:  wantProtoConn,                                 // §6.10
	{"half-closed-remote", "unknown"}:       wantIgnored,                                   // §5.5
	// closed after END_STREAM both ways: §5.1 closed "any frames after
	// receiving a frame with the END_STREAM flag set MUST [be treated] as
	// a connection error of type STREAM_CLOSED", §6.1 DATA on a stream
	// not open: stream error STREAM_CLOSED; reusing the id for HEADERS is
	// also §5.1.1 PROTOCOL_ERROR. WINDOW_UPDATE and RST_STREAM MUST be
	// wantIgnored shortly after END_STREAM was sent (§5.1).
	{"closed", "DATA"}:          {wantStreamErr(1, http2.ErrCodeStreamClosed), wantConnErr(http2.ErrCodeStreamClosed)}, // §5.1, §6.1
	{"closed", "HEADERS"}:       closedReuse,                                                                           // §5.1, §5.1.1
	{"closed", "PRIORITY"}:      wantIgnored,                                                                           // §5.1 closed: PRIORITY allowed
	{"closed", "RST_STREAM"}:    wantIgnored,                                                                           // §5.1 MUST ignore
	{"closed", "SETTINGS"}:      wantProtoConn,                                                                         // §6.5
	{"closed", "PUSH_PROMISE"}:  wantProtoConn,                                                                         // §8.4
	{"closed", "PING"}:          wantProtoConn,                                                                         // §6.7
	{"closed", "GOAWAY"}:        wantProtoConn,                                                                         // §6.8
	{"closed", "WINDOW_UPDATE"}: wantIgnored,                                                                           // §5.1 MUST ignore, §6.9
	{"closed", "CONTINUATION"}:  wantProtoConn,                                                                         // §6.10
	{"closed", "unknown"}:       wantIgnored,                                                                           // §5.5
	// closed by the client's RST_STREAM: §5.1 "An endpoint that receives
	// any frame other than PRIORITY after receiving a RST_STREAM MUST
	// treat that as a stream error of type STREAM_CLOSED" — except that
	// §5.4.2 forbids answering RST_STREAM with RST_STREAM and §6.9 says
	// WINDOW_UPDATE on a closed stream is not an error.
	{"closed-by-rst", "DATA"}:          {wantStreamErr(1, http2.ErrCodeStreamClosed)}, // §5.1, §6.1
	{"closed-by-rst", "HEADERS"}:       closedReuse,                                   // §5.1, §5.1.1
	{"closed-by-rst", "PRIORITY"}:      wantIgnored,                                   // §5.1
	{"closed-by-rst", "RST_STREAM"}:    wantIgnored,                                   // §5.4.2
	{"closed-by-rst", "SETTINGS"}:      wantProtoConn,                                 // §6.5
	{"closed-by-rst", "PUSH_PROMISE"}:  wantProtoConn,                                 // §8.4
	{"closed-by-rst", "PING"}:          wantProtoConn,                                 // §6.7
	{"closed-by-rst", "GOAWAY"}:        wantProtoConn,                                 // §6.8
	{"closed-by-rst", "WINDOW_UPDATE"}: wantIgnored,                                   // §6.9
	{"closed-by-rst", "CONTINUATION"}:  wantProtoConn,                                 // §6.10
	{"closed-by-rst", "unknown"}:       wantIgnored,                                   // §5.5
}

// stateDeviations are the state × frame cells where x/net is known to
// differ from RFC 9113.
var stateDeviations = map[[2]string]bool{}

func TestH2WireStreamStates(t *testing.T) {
	var rows []wireRow
	for _, st := range streamStates {
		for _, fr := range stateFrames {
			key := [2]string{st.name, fr.name}
			want, ok := stateTable[key]
			if !ok {
				t.Fatalf("stateTable has no row for %v", key)
			}
			rows = append(rows, wireRow{
				name: st.name + "/" + fr.name,
				send: func(w *wireClient) {
					st.setup(w)
					fr.send(w, st.name)
				},
				want:         want,
				xnetDeviates: stateDeviations[key],
			})
		}
	}
	runWireRows(t, rows)
}

// openPost opens stream 1 with a POST whose body is still to come.
func openPost(w *wireClient) { w.request(1, false, reqFields("POST", "/")...) }

func TestH2WireFrameValidation(t *testing.T) {
	fse, pe, fce := http2.ErrCodeFrameSize, http2.ErrCodeProtocol, http2.ErrCodeFlowControl
	rows := []wireRow{
		// §6.1 DATA with stream 0: connection error PROTOCOL_ERROR.
		{name: "DATA on stream 0", send: func(w *wireClient) { w.data(0, false, []byte("x")) }, want: wantProtoConn},
		// §6.2 HEADERS with stream 0: connection error PROTOCOL_ERROR.
		{name: "HEADERS on stream 0", send: func(w *wireClient) { w.request(0, true, reqFields("GET", "/")...) }, want: wantProtoConn},
		// §6.3 PRIORITY with stream 0: connection error PROTOCOL_ERROR.
		{name: "PRIORITY on stream 0", send: func(w *wireClient) { w.raw(http2.FramePriority, 0, 0, []byte{0, 0, 0, 0, 15}) }, want: wantProtoConn},
		// §6.3 PRIORITY other than 5 octets: stream error FRAME_SIZE_ERROR.
		{name: "PRIORITY length 4", send: func(w *wireClient) {
			openPost(w)
			w.raw(http2.FramePriority, 0, 1, []byte{0, 0, 0, 0})
		}, want: []wireOutcome{wantStreamErr(1, fse)}, xnetDeviates: true},
		// §5.3.1 a stream cannot depend on itself: stream error PROTOCOL_ERROR.
		{name: "PRIORITY depends on itself", send: func(w *wireClient) {
			openPost(w)
			w.priority(1, http2.PriorityParam{StreamDep: 1, Weight: 15})
		}, want: []wireOutcome{wantStreamErr(1, pe)}},
		// §5.3.1, in the HEADERS priority fields.
		{name: "HEADERS depends on itself", send: func(w *wireClient) {
			w.headers(1, wireHdr{endStream: true, priority: http2.PriorityParam{StreamDep: 1, Weight: 15}}, w.block(reqFields("GET", "/")...))
		}, want: []wireOutcome{wantStreamErr(1, pe)}},
		// §6.4 RST_STREAM with stream 0: connection error PROTOCOL_ERROR.
		{name: "RST_STREAM on stream 0", send: func(w *wireClient) { w.rst(0, http2.ErrCodeCancel) }, want: wantProtoConn},
		// §6.4 RST_STREAM other than 4 octets: connection error FRAME_SIZE_ERROR.
		{name: "RST_STREAM length 3", send: func(w *wireClient) {
			openPost(w)
			w.raw(http2.FrameRSTStream, 0, 1, []byte{0, 0, 8})
		}, want: []wireOutcome{wantConnErr(fse)}},
		// §6.5 SETTINGS length not a multiple of 6: FRAME_SIZE_ERROR.
		{name: "SETTINGS length 5", send: func(w *wireClient) { w.raw(http2.FrameSettings, 0, 0, []byte{0, 4, 0, 0, 1}) }, want: []wireOutcome{wantConnErr(fse)}},
		// §6.5 SETTINGS ACK with a payload: FRAME_SIZE_ERROR.
		{name: "SETTINGS ACK with payload", send: func(w *wireClient) {
			w.raw(http2.FrameSettings, http2.FlagSettingsAck, 0, []byte{0, 4, 0, 0, 0, 1})
		}, want: []wireOutcome{wantConnErr(fse)}},
		// §6.5.2 SETTINGS_ENABLE_PUSH other than 0 or 1: PROTOCOL_ERROR.
		{name: "SETTINGS_ENABLE_PUSH 2", send: func(w *wireClient) { w.settings(http2.Setting{ID: http2.SettingEnablePush, Val: 2}) }, want: wantProtoConn},
		// §6.5.2 SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1: FLOW_CONTROL_ERROR.
		{name: "SETTINGS_INITIAL_WINDOW_SIZE 2^31", send: func(w *wireClient) {
			w.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, want: []wireOutcome{wantConnErr(fce)}},
		// §6.5.2 SETTINGS_MAX_FRAME_SIZE below 2^14: PROTOCOL_ERROR.
		{name: "SETTINGS_MAX_FRAME_SIZE 16383", send: func(w *wireClient) {
			w.settings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16383})
		}, want: wantProtoConn},
		// §6.5.2 SETTINGS_MAX_FRAME_SIZE above 2^24-1: PROTOCOL_ERROR.
		{name: "SETTINGS_MAX_FRAME_SIZE 2^24", send: func(w *wireClient) {
			w.settings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 24})
		}, want: wantProtoConn},
		// RFC 8441 §3 SETTINGS_ENABLE_CONNECT_PROTOCOL other than 0 or 1: PROTOCOL_ERROR.
		{name: "SETTINGS_ENABLE_CONNECT_PROTOCOL 2", send: func(w *wireClient) {
			w.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 2})
		}, want: wantProtoConn},
		// §6.5.2 an unknown or unsupported setting MUST be wantIgnored.
		{name: "SETTINGS unknown identifier", send: func(w *wireClient) { w.settings(http2.Setting{ID: 0xf0f0, Val: 7}) }, want: wantIgnored},
		// §6.5.3 "The values in the SETTINGS frame MUST be processed in the
		// order they appear": the last SETTINGS_INITIAL_WINDOW_SIZE wins.
		{name: "SETTINGS duplicate INITIAL_WINDOW_SIZE in order", send: func(w *wireClient) {
			w.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
			w.request(1, true, reqFields("GET", "/")...)
		}, check: checkWindowOfOne, xnetDeviates: true},
		// §6.7 PING other than 8 octets: FRAME_SIZE_ERROR.
		{name: "PING length 7", send: func(w *wireClient) { w.raw(http2.FramePing, 0, 0, make([]byte, 7)) }, want: []wireOutcome{wantConnErr(fse)}},
		// §4.2 a frame too small for its mandatory fields (GOAWAY, §6.8:
		// 8 octets at least) alters connection state: FRAME_SIZE_ERROR.
		{name: "GOAWAY length 4", send: func(w *wireClient) { w.raw(http2.FrameGoAway, 0, 0, make([]byte, 4)) }, want: []wireOutcome{wantConnErr(fse)}},
		// §6.9 WINDOW_UPDATE other than 4 octets: connection error FRAME_SIZE_ERROR.
		{name: "WINDOW_UPDATE length 3", send: func(w *wireClient) { w.raw(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 1}) }, want: []wireOutcome{wantConnErr(fse)}},
		// §6.9 increment 0 on the connection: connection error PROTOCOL_ERROR.
		{name: "WINDOW_UPDATE 0 on connection", send: func(w *wireClient) { w.windowUpdate(0, 0) }, want: wantProtoConn},
		// §6.9 increment 0 on a stream: stream error PROTOCOL_ERROR.
		{name: "WINDOW_UPDATE 0 on stream", send: func(w *wireClient) {
			openPost(w)
			w.windowUpdate(1, 0)
		}, want: []wireOutcome{wantStreamErr(1, pe)}},
		// §6.9.1 a connection window above 2^31-1: FLOW_CONTROL_ERROR.
		{name: "connection window overflow", send: func(w *wireClient) { w.windowUpdate(0, 1<<31-1) }, want: []wireOutcome{wantConnErr(fce)}},
		// §6.9.1 a stream window above 2^31-1: stream error FLOW_CONTROL_ERROR.
		{name: "stream window overflow", send: func(w *wireClient) {
			openPost(w)
			w.windowUpdate(1, 1<<31-1)
		}, want: []wireOutcome{wantStreamErr(1, fce)}},
		// §6.9.2 a SETTINGS_INITIAL_WINDOW_SIZE change that makes a stream
		// window exceed 2^31-1: connection error FLOW_CONTROL_ERROR.
		{name: "INITIAL_WINDOW_SIZE change overflows a stream window", send: func(w *wireClient) {
			openPost(w)
			w.windowUpdate(1, 1<<31-1-65535)
			w.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65536})
			// Ending the request makes the server answer, so a server that
			// checks windows lazily, when it sends, gets to see the overflow.
			w.data(1, true, nil)
		}, want: []wireOutcome{wantConnErr(fce)}, xnetDeviates: true},
		// §4.2 a frame over SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR; a
		// DATA frame may be a stream error.
		{name: "DATA over max frame size", send: func(w *wireClient) {
			openPost(w)
			w.data(1, false, make([]byte, w.serverSetting(http2.SettingMaxFrameSize)+1))
		}, want: []wireOutcome{wantConnErr(fse), wantStreamErr(1, fse)}},
		// §4.2 a frame carrying a field block over the limit: connection error.
		{name: "HEADERS over max frame size", send: func(w *wireClient) {
			w.headers(1, wireHdr{endStream: true}, bytes.Repeat([]byte{0x82}, int(w.serverSetting(http2.SettingMaxFrameSize))+1))
		}, want: []wireOutcome{wantConnErr(fse)}},
		// §6.1 padding not shorter than the payload: PROTOCOL_ERROR.
		{name: "DATA padding too long", send: func(w *wireClient) {
			openPost(w)
			w.raw(http2.FrameData, http2.FlagDataPadded, 1, []byte{5, 'a', 'b'})
		}, want: wantProtoConn},
		// §6.2 the same for HEADERS ("MUST be treated as a PROTOCOL_ERROR");
		// a connection error, as a field block left undecoded leaves the
		// HPACK state unknown (§4.3).
		{name: "HEADERS padding too long", send: func(w *wireClient) {
			w.raw(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, []byte{20, 0x82, 0x87})
		}, want: wantProtoConn, xnetDeviates: true},
		// §5.1.1 a client-initiated stream with an even id: PROTOCOL_ERROR.
		{name: "HEADERS on even stream id", send: func(w *wireClient) { w.request(2, true, reqFields("GET", "/")...) }, want: wantProtoConn},
		// §5.1.1 a new stream id lower than one already used: PROTOCOL_ERROR.
		{name: "HEADERS on a decreasing stream id", send: func(w *wireClient) {
			w.request(5, true, reqFields("GET", "/")...)
			w.expect(wantStatus(5, "200"))
			w.request(3, true, reqFields("GET", "/")...)
		}, want: wantProtoConn},
		// §5.1.2 a HEADERS that exceeds the advertised concurrent stream
		// limit: PROTOCOL_ERROR (connection or stream) or REFUSED_STREAM.
		{name: "over MAX_CONCURRENT_STREAMS", check: checkConcurrencyLimit, send: func(*wireClient) {}},
	}
	runWireRows(t, rows)
}

// checkWindowOfOne: after SETTINGS {65535, 1} for the initial window, the
// "ok" body comes one byte at a time, the second after a WINDOW_UPDATE.
func checkWindowOfOne(w *wireClient) error {
	if _, err := w.expectErr(wantStatus(1, "200")); err != nil {
		return err
	}
	var first []byte
	ok, err := w.readErr(func(f http2.Frame) bool {
		if d, isData := f.(*http2.DataFrame); isData && d.StreamID == 1 {
			first = bytes.Clone(d.Data())
			return true
		}
		return false
	})
	if err != nil || !ok {
		return fmt.Errorf("no DATA on stream 1 (closed %v): %v", w.closed, err)
	}
	if len(first) != 1 {
		return fmt.Errorf("first DATA carried %d bytes (%q): the server used the first of the duplicate SETTINGS_INITIAL_WINDOW_SIZE values, not the last (1)", len(first), first)
	}
	w.windowUpdate(1, 1)
	rest, _ := w.expectBody(1)
	if got := string(first) + string(rest); got != "ok" {
		return fmt.Errorf("body %q; want \"ok\"", got)
	}
	return nil
}

// checkConcurrencyLimit opens as many held streams as the server allows,
// then one more.
func checkConcurrencyLimit(w *wireClient) error {
	limit := w.serverSetting(http2.SettingMaxConcurrentStreams)
	if limit > 1000 {
		return fmt.Errorf("the server advertises SETTINGS_MAX_CONCURRENT_STREAMS %d: no bound to test", limit)
	}
	for i := uint32(0); i < limit; i++ {
		w.request(1+2*i, true, reqFields("GET", "/hold")...)
	}
	if _, err := w.expectErr(wantAlive()); err != nil {
		return fmt.Errorf("%d streams within the limit: %v", limit, err)
	}
	over := 1 + 2*limit
	w.request(over, true, reqFields("GET", "/hold")...)
	got, err := w.expectErr(wantStreamErr(over, http2.ErrCodeRefusedStream), wantStreamErr(over, http2.ErrCodeProtocol), wantConnErr(http2.ErrCodeProtocol))
	if err == nil {
		w.t.Logf("stream %d over the limit of %d: %v", over, limit, got)
	}
	return err
}

func TestH2WireContinuation(t *testing.T) {
	head := func(w *wireClient) []byte { return w.block(reqFields("GET", "/")...) }
	rows := []wireRow{
		// §6.10 a field block split over HEADERS and CONTINUATION is one block.
		{name: "split block", send: func(w *wireClient) {
			b := head(w)
			w.headers(1, wireHdr{endStream: true, noEnd: true}, b[:3])
			w.continuation(1, false, b[3:5])
			w.continuation(1, true, b[5:])
		}, want: []wireOutcome{wantStatus(1, "200")}},
		// §6.10 "Any other type of frame or a frame on a different stream
		// MUST be treated as a connection error of type PROTOCOL_ERROR".
		{name: "DATA inside a block", send: func(w *wireClient) {
			b := head(w)
			w.headers(1, wireHdr{noEnd: true}, b[:3])
			w.data(1, false, []byte("x"))
		}, want: wantProtoConn},
		{name: "PING inside a block", send: func(w *wireClient) {
			b := head(w)
			w.headers(1, wireHdr{endStream: true, noEnd: true}, b[:3])
			w.ping(false, [8]byte{1})
		}, want: wantProtoConn},
		{name: "HEADERS of another stream inside a block", send: func(w *wireClient) {
			b := head(w)
			w.headers(1, wireHdr{endStream: true, noEnd: true}, b[:3])
			w.request(3, true, reqFields("GET", "/")...)
		}, want: wantProtoConn},
		{name: "CONTINUATION on another stream", send: func(w *wireClient) {
			b := head(w)
			w.headers(1, wireHdr{endStream: true, noEnd: true}, b[:3])
			w.continuation(3, true, b[3:])
		}, want: wantProtoConn},
		// §5.5 "Extension frames that appear in the middle of a field block
		// ... MUST be treated as a connection error of type PROTOCOL_ERROR".
		{name: "unknown frame inside a block", send: func(w *wireClient) {
			b := head(w)
			w.headers(1, wireHdr{endStream: true, noEnd: true}, b[:3])
			w.unknownFrame(1)
		}, want: wantProtoConn},
	}
	runWireRows(t, rows)
}

// appendHpackInt appends v as an HPACK integer (RFC 7541 §5.1) with an
// n-bit prefix, the first octet's high bits set to flags.
func appendHpackInt(dst []byte, flags byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, flags|byte(v))
	}
	dst = append(dst, flags|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func TestH2WireHPACK(t *testing.T) {
	ce := http2.ErrCodeCompression
	// 0x82 :method GET, 0x87 :scheme https, 0x84 :path /, 0x41 :authority
	// literal with incremental indexing (RFC 7541 Appendix A).
	valid := []byte{0x82, 0x87, 0x84, 0x41, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm'}
	rows := []wireRow{
		// RFC 9113 §4.3 a field block that fails to decode: COMPRESSION_ERROR;
		// RFC 7541 §2.3.3 an index beyond both tables is a decoding error.
		{name: "index beyond the tables", send: func(w *wireClient) {
			w.headers(1, wireHdr{endStream: true}, append(bytes.Clone(valid), 0xfe))
		}, want: []wireOutcome{wantConnErr(ce)}},
		// RFC 7541 §6.1 index 0 is a decoding error.
		{name: "index 0", send: func(w *wireClient) { w.headers(1, wireHdr{endStream: true}, append(bytes.Clone(valid), 0x80)) }, want: []wireOutcome{wantConnErr(ce)}},
		// RFC 7541 §6.3 a table size update above SETTINGS_HEADER_TABLE_SIZE.
		{name: "table size update over the limit", send: func(w *wireClient) {
			b := appendHpackInt(nil, 0x20, 5, uint64(w.serverSetting(http2.SettingHeaderTableSize))+1)
			w.headers(1, wireHdr{endStream: true}, append(b, valid...))
		}, want: []wireOutcome{wantConnErr(ce)}},
		// RFC 7541 §4.2 a table size update after the first field.
		{name: "table size update not first", send: func(w *wireClient) {
			w.headers(1, wireHdr{endStream: true}, append(bytes.Clone(valid), 0x20))
		}, want: []wireOutcome{wantConnErr(ce)}},
		// RFC 7541 §5.2 a string literal longer than the block.
		{name: "truncated literal", send: func(w *wireClient) {
			w.headers(1, wireHdr{endStream: true}, append(bytes.Clone(valid), 0x40, 0x03, 'x', '-', 'a', 0x0a, 'b'))
		}, want: []wireOutcome{wantConnErr(ce)}},
		// RFC 7541 §5.2 Huffman padding longer than 7 bits (EOS) is an error.
		{name: "Huffman EOS padding", send: func(w *wireClient) {
			w.headers(1, wireHdr{endStream: true}, append(bytes.Clone(valid), 0x40, 0x03, 'x', '-', 'a', 0x84, 0xff, 0xff, 0xff, 0xff))
		}, want: []wireOutcome{wantConnErr(ce)}},
		// The same block without the error decodes: the rows above fail
		// for the reason they name.
		{name: "valid block", send: func(w *wireClient) { w.headers(1, wireHdr{endStream: true}, bytes.Clone(valid)) }, want: []wireOutcome{wantStatus(1, "200")}},
	}
	runWireRows(t, rows)
}

func TestH2WireRequestRules(t *testing.T) {
	pe := http2.ErrCodeProtocol
	bad := []wireOutcome{wantStreamErr(1, pe)}
	ok := []wireOutcome{wantStatus(1, "200")}
	get := func(extra ...string) func(w *wireClient) {
		return func(w *wireClient) { w.request(1, true, reqFields("GET", "/", extra...)...) }
	}
	fields := func(nameValues ...string) func(w *wireClient) {
		return func(w *wireClient) { w.request(1, true, nameValues...) }
	}
	// post sends a POST head with content-length cl and then body with
	// END_STREAM (no DATA when body is nil: END_STREAM on the HEADERS).
	post := func(cl string, body []byte) func(w *wireClient) {
		return func(w *wireClient) {
			w.request(1, body == nil, reqFields("POST", "/", "content-length", cl)...)
			if body != nil {
				w.data(1, true, body)
			}
		}
	}
	connect := func(nameValues ...string) func(w *wireClient) {
		return func(w *wireClient) { w.request(1, true, append([]string{":method", "CONNECT"}, nameValues...)...) }
	}
	rows := []wireRow{
		// §8.2.2 connection-specific fields make a request malformed; §8.1.1
		// a malformed request is a stream error PROTOCOL_ERROR.
		{name: "connection field", send: get("connection", "keep-alive"), want: bad, xnetDeviates: true},
		{name: "keep-alive field", send: get("keep-alive", "timeout=5"), want: bad, xnetDeviates: true},
		{name: "proxy-connection field", send: get("proxy-connection", "keep-alive"), want: bad, xnetDeviates: true},
		{name: "transfer-encoding field", send: get("transfer-encoding", "chunked"), want: bad, xnetDeviates: true},
		{name: "upgrade field", send: get("upgrade", "h2c"), want: bad, xnetDeviates: true},
		// §8.2.2 te other than "trailers" is malformed ...
		{name: "te gzip", send: get("te", "gzip"), want: bad, xnetDeviates: true},
		// ... and "trailers" is allowed.
		{name: "te trailers", send: get("te", "trailers"), want: ok},
		// §8.2.1 uppercase field names are malformed.
		{name: "uppercase name", send: get("X-Foo", "1"), want: bad},
		// §8.2.1 a name with a character outside the token set.
		{name: "space in name", send: get("x foo", "1"), want: bad},
		// §8.2.1 CR, LF or NUL in a value.
		{name: "CRLF in value", send: get("x-foo", "a\r\nb"), want: bad},
		// §8.2.1 a value MUST NOT start or end with whitespace.
		{name: "value leading space", send: get("x-foo", " a"), want: bad, xnetDeviates: true},
		// §8.3 pseudo-header fields MUST precede regular fields.
		{name: "pseudo after regular", send: fields(":method", "GET", ":scheme", "https", "x-a", "1", ":authority", "example.com", ":path", "/"), want: bad},
		// §8.3 undefined pseudo-header fields are malformed.
		{name: "unknown pseudo", send: get(":foo", "bar"), want: bad},
		// §8.3.1 the same pseudo-header field twice is malformed.
		{name: "duplicate :path", send: fields(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/", ":path", "/"), want: bad},
		{name: "duplicate :method", send: fields(":method", "GET", ":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"), want: bad},
		// §8.3 response pseudo-header fields in a request are malformed.
		{name: ":status in request", send: fields(":status", "200", ":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"), want: bad},
		// §8.3.1 :method, :scheme and :path are required.
		{name: "missing :method", send: fields(":scheme", "https", ":authority", "example.com", ":path", "/"), want: bad},
		{name: "missing :scheme", send: fields(":method", "GET", ":authority", "example.com", ":path", "/"), want: bad},
		{name: "missing :path", send: fields(":method", "GET", ":scheme", "https", ":authority", "example.com"), want: bad},
		// §8.3.1 :path MUST NOT be empty for http or https.
		{name: "empty :path", send: fields(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", ""), want: bad},
		// §8.5 CONNECT: :authority only.
		{name: "CONNECT", send: connect(":authority", "example.com:443"), want: ok},
		// §8.5 CONNECT: ":scheme and :path pseudo-header fields MUST be omitted".
		{name: "CONNECT with :path", send: connect(":authority", "example.com:443", ":path", "/"), want: bad},
		{name: "CONNECT with :scheme", send: connect(":authority", "example.com:443", ":scheme", "https"), want: bad},
		// §8.5 CONNECT without :authority is malformed.
		{name: "CONNECT without :authority", send: connect(), want: bad},
		// RFC 8441 §4 extended CONNECT: with SETTINGS_ENABLE_CONNECT_PROTOCOL
		// advertised it is a request; without, :protocol is an undefined
		// pseudo-header field (RFC 9113 §8.3).
		{name: "CONNECT with :protocol", send: connect(":protocol", "websocket", ":scheme", "https", ":authority", "example.com", ":path", "/"), check: checkExtendedConnect},
		// RFC 8441 §4 :protocol only in CONNECT; RFC 9113 §8.3 invalid pseudo-header.
		{name: ":protocol on GET", send: get(":protocol", "websocket"), want: bad},
		// §8.1.1 content-length disagreeing with the DATA is malformed,
		// whether the body is shorter ...
		{name: "content-length above DATA", send: post("5", []byte("abc")), want: bad, xnetDeviates: true},
		// ... or longer ...
		{name: "content-length below DATA", send: post("2", []byte("abcde")), want: bad},
		// ... or absent (END_STREAM on the HEADERS).
		// x/net's handler sees the short body as an error only when it
		// reads it, and may answer first.
		{name: "content-length without DATA", send: post("3", nil), want: bad, xnetDeviates: true},
		// §8.1.1 (RFC 9110 §8.6: 1*DIGIT) a content-length that is not a number.
		{name: "content-length not a number", send: post("abc", []byte("abc")), want: bad},
		{name: "content-length matching", send: post("3", []byte("abc")), want: ok},
		// §8.1 a trailer section HEADERS MUST carry END_STREAM.
		{name: "trailers without END_STREAM", send: func(w *wireClient) {
			w.request(1, false, reqFields("POST", "/")...)
			w.data(1, false, []byte("abc"))
			w.headers(1, wireHdr{}, w.block("x-trailer", "1"))
		}, want: bad},
		// §8.1 trailers MUST NOT include pseudo-header fields.
		{name: "pseudo in trailers", send: func(w *wireClient) {
			w.request(1, false, reqFields("POST", "/")...)
			w.data(1, false, []byte("abc"))
			w.headers(1, wireHdr{endStream: true}, w.block(":path", "/x"))
		}, want: bad},
		// §6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE, §10.5.1: a request 8 KB over
		// the advertised size gets 431 (RFC 6585 §5), the block processed so
		// that HPACK state stays in step. §10.5.1 would also allow closing
		// the connection; Gantry's server contract asks for 431.
		{name: "header list over MAX_HEADER_LIST_SIZE", send: func(w *wireClient) {
			limit := int(w.serverSetting(http2.SettingMaxHeaderListSize))
			if limit == 0 || limit > 1<<20 {
				w.t.Fatalf("the server advertises SETTINGS_MAX_HEADER_LIST_SIZE %d: no bound to test", limit)
			}
			extra := []string{}
			for size := 0; size <= limit+8<<10; size += 32 + 4 + 1000 {
				extra = append(extra, fmt.Sprintf("x-%02d", len(extra)/2%100), strings.Repeat("v", 1000))
			}
			w.headersSplit(1, true, w.block(reqFields("GET", "/", extra...)...))
		}, want: []wireOutcome{wantStatus(1, "431")}},
		// §8.1 request trailers, and a response with a trailer section.
		{name: "trailers both ways", send: func(w *wireClient) {
			w.request(1, false, reqFields("POST", "/trailer", "te", "trailers")...)
			w.data(1, false, []byte("abc"))
			w.headers(1, wireHdr{endStream: true}, w.block("x-trailer", "1"))
		}, check: checkResponseTrailer},
	}
	runWireRows(t, rows)
}

func checkExtendedConnect(w *wireClient) error {
	want := wantStreamErr(1, http2.ErrCodeProtocol)
	if w.serverSetting(http2.SettingEnableConnectProtocol) == 1 {
		want = wantStatus(1, "200")
	}
	return wireRow{want: []wireOutcome{want}}.verify(w)
}

func checkResponseTrailer(w *wireClient) error {
	if _, err := w.expectErr(wantStatus(1, "200")); err != nil {
		return err
	}
	body, trailer := w.expectBody(1)
	if string(body) != "ok" || len(trailer) != 2 || trailer[0] != "x-t" || trailer[1] != "1" {
		return fmt.Errorf("body %q trailer %q; want \"ok\" and [x-t 1]", body, trailer)
	}
	return nil
}

// TestH2WirePreface: §3.4 "The client connection preface starts with a
// sequence of 24 octets ... followed by a SETTINGS frame"; either wrong is
// a connection error PROTOCOL_ERROR, for which the GOAWAY "MAY be omitted"
// (the peer may not speak HTTP/2 at all).
func TestH2WirePreface(t *testing.T) {
	forEachServer(t, func(t *testing.T, serve serverUnderTest, _ bool) {
		t.Run("wrong octets", func(t *testing.T) {
			w := dialWire(t, serve)
			w.rawBytes([]byte("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"))
			w.settings()
			w.expect(wantConnErrOrClose(http2.ErrCodeProtocol))
		})
		t.Run("first frame not SETTINGS", func(t *testing.T) {
			w := dialWire(t, serve)
			w.rawBytes([]byte(http2.ClientPreface))
			w.ping(false, [8]byte{1})
			w.expect(wantConnErrOrClose(http2.ErrCodeProtocol))
		})
		t.Run("HTTP/1.1 request", func(t *testing.T) {
			w := dialWire(t, serve)
			w.rawBytes([]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
			w.expect(wantConnErrOrClose(http2.ErrCodeProtocol))
		})
	})
}
