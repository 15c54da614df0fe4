package h2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// wireBound bounds every wait of the raw client, so that a server that
// hangs fails the test instead of blocking it. It is never asserted on.
const wireBound = 10 * time.Second

// wireClient is a raw HTTP/2 client that writes whatever frames a test
// asks for, valid or not, and reads the server's answer frame by frame.
// Writes go through a queue drained by their own goroutine, so a server
// that writes while the test is writing never deadlocks the net.Pipe.
type wireClient struct {
	t    *testing.T
	conn net.Conn
	rd   *http2.Framer

	wbuf bytes.Buffer
	wr   *http2.Framer // writes into wbuf, illegal frames allowed
	hbuf bytes.Buffer
	enc  *hpack.Encoder

	out      chan outItem
	outDone  chan struct{}
	failed   chan struct{} // closed at the first write error
	failOnce sync.Once
	writeErr atomic.Value
	written  atomic.Int64 // frames (or raw chunks) fully written

	served chan struct{} // closed when the server under test returned

	serverSettings map[http2.SettingID]uint32
	// sendConn and sendStream are the server's receive windows as far as
	// the client has seen them: what it may still send.
	sendConn   int64
	sendStream map[uint32]int64
	pingSeq    uint64
	closed     bool // the server closed the connection
	// waiter, when set, takes over waiting for the server to return, so
	// that many connections' wind-downs overlap.
	waiter *serveWaiter
	// otherStreamsFree makes expect skip RST_STREAM and :status frames
	// it does not wait for (floods: many streams answer in any order).
	otherStreamsFree bool
}

// startWire connects a raw client to serve over a net.Pipe, sends the
// preface and a SETTINGS frame with settings, and returns once the
// server's SETTINGS arrived and a PING round trip completed.
func startWire(t *testing.T, serve serverUnderTest, settings ...http2.Setting) *wireClient {
	t.Helper()
	w := dialWire(t, serve)
	w.rawBytes([]byte(http2.ClientPreface))
	w.settings(settings...)
	w.expect(wantAlive())
	if w.serverSettings == nil {
		t.Fatal("server answered the PING before sending its SETTINGS (RFC 9113 §3.4)")
	}
	return w
}

// dialWire connects a raw client to serve without sending anything.
func dialWire(t *testing.T, serve serverUnderTest) *wireClient {
	t.Helper()
	cc, sc := net.Pipe()
	w := &wireClient{
		t:          t,
		conn:       cc,
		out:        make(chan outItem, 256),
		outDone:    make(chan struct{}),
		failed:     make(chan struct{}),
		served:     make(chan struct{}),
		sendConn:   65535,
		sendStream: map[uint32]int64{},
	}
	w.rd = http2.NewFramer(nil, cc)
	w.rd.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	w.rd.MaxHeaderListSize = 1 << 20
	w.wr = http2.NewFramer(&w.wbuf, nil)
	w.wr.AllowIllegalWrites = true
	w.enc = hpack.NewEncoder(&w.hbuf)
	go func() {
		defer close(w.served)
		serve(t, sc)
	}()
	go w.writeLoop()
	t.Cleanup(w.close)
	return w
}

// outItem is bytes to write, or (done set) a marker closed once everything
// queued before it was written or writing failed.
type outItem struct {
	b    []byte
	done chan struct{}
}

func (w *wireClient) writeLoop() {
	defer close(w.outDone)
	for it := range w.out {
		if it.done != nil {
			close(it.done)
			continue
		}
		select {
		case <-w.failed:
			continue
		default:
		}
		_ = w.conn.SetWriteDeadline(time.Now().Add(wireBound))
		if _, err := w.conn.Write(it.b); err != nil {
			w.fail(err)
			continue
		}
		w.written.Add(1)
	}
}

func (w *wireClient) fail(err error) {
	w.failOnce.Do(func() {
		w.writeErr.Store(err)
		close(w.failed)
	})
}

// close ends the client side and requires the server to return.
func (w *wireClient) close() {
	close(w.out)
	_ = w.conn.Close()
	<-w.outDone
	if w.waiter != nil {
		w.waiter.add(w.t.Name(), w.served)
		return
	}
	select {
	case <-w.served:
	case <-time.After(wireBound):
		w.t.Errorf("the server did not return within %v of the client closing the connection", wireBound)
	}
}

// serveWaiter collects servers under test whose client has closed, and
// requires each to return within wireBound of wait.
type serveWaiter struct {
	mu     sync.Mutex
	names  []string
	served []chan struct{}
}

func (sw *serveWaiter) add(name string, served chan struct{}) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.names = append(sw.names, name)
	sw.served = append(sw.served, served)
}

func (sw *serveWaiter) wait(t *testing.T) {
	t.Helper()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	timeout := time.After(wireBound)
	for i, served := range sw.served {
		select {
		case <-served:
		case <-timeout:
			t.Errorf("%s: the server did not return within %v of the client closing the connection", sw.names[i], wireBound)
			return
		}
	}
}

// send queues b for writing; false when writing already failed (the
// server closed or stopped reading for wireBound).
func (w *wireClient) send(b []byte) bool {
	select {
	case w.out <- outItem{b: b}:
		return true
	case <-w.failed:
		return false
	}
}

// drained is closed once everything queued so far was written, or writing
// failed.
func (w *wireClient) drained() <-chan struct{} {
	done := make(chan struct{})
	select {
	case w.out <- outItem{done: done}:
	case <-w.failed:
		close(done)
	}
	return done
}

// writeFailed reports whether a write failed, without waiting.
func (w *wireClient) writeFailed() bool {
	select {
	case <-w.failed:
		return true
	default:
		return false
	}
}

// frame runs write against the illegal-writes framer and queues the bytes.
func (w *wireClient) frame(write func(fr *http2.Framer) error) bool {
	return w.send(w.encode(write))
}

// encode returns the bytes write produces, for a test that sends them
// many times.
func (w *wireClient) encode(write func(fr *http2.Framer) error) []byte {
	w.wbuf.Reset()
	if err := write(w.wr); err != nil {
		w.t.Fatalf("encoding a frame: %v", err)
	}
	return bytes.Clone(w.wbuf.Bytes())
}

// rawBytes queues b as they are.
func (w *wireClient) rawBytes(b []byte) bool { return w.send(bytes.Clone(b)) }

// raw queues a frame of any type, flags and payload.
func (w *wireClient) raw(typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteRawFrame(typ, flags, stream, payload) })
}

// block HPACK-encodes name/value pairs as they are (any case, any pseudo
// field, any order) with the connection's encoder.
func (w *wireClient) block(nameValues ...string) []byte {
	if len(nameValues)%2 != 0 {
		w.t.Fatalf("block: odd number of name/value strings")
	}
	w.hbuf.Reset()
	for i := 0; i < len(nameValues); i += 2 {
		// Never indexed: a block the server rejects undecoded cannot leave
		// the two dynamic tables out of step for the rows after it.
		f := hpack.HeaderField{Name: nameValues[i], Value: nameValues[i+1], Sensitive: true}
		if err := w.enc.WriteField(f); err != nil {
			w.t.Fatalf("hpack: %v", err)
		}
	}
	return bytes.Clone(w.hbuf.Bytes())
}

// wireHdr describes a HEADERS frame beyond its stream and block.
type wireHdr struct {
	endStream bool
	noEnd     bool // leave END_HEADERS unset: CONTINUATION must follow
	padLen    uint8
	priority  http2.PriorityParam // sent when not zero
}

func (w *wireClient) headers(stream uint32, h wireHdr, block []byte) bool {
	return w.frame(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: stream, BlockFragment: block, EndStream: h.endStream,
			EndHeaders: !h.noEnd, PadLength: h.padLen, Priority: h.priority,
		})
	})
}

// reqFields is a valid GET for path, followed by extra name/value pairs.
func reqFields(method, path string, extra ...string) []string {
	return append([]string{":method", method, ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)
}

// request sends a complete request head on stream with the given fields.
func (w *wireClient) request(stream uint32, endStream bool, nameValues ...string) bool {
	return w.headers(stream, wireHdr{endStream: endStream}, w.block(nameValues...))
}

// headersSplit sends block as HEADERS and as many CONTINUATION frames as
// the server's SETTINGS_MAX_FRAME_SIZE requires.
func (w *wireClient) headersSplit(stream uint32, endStream bool, block []byte) bool {
	max := int(w.serverSetting(http2.SettingMaxFrameSize))
	first := block[:min(len(block), max)]
	block = block[len(first):]
	if !w.headers(stream, wireHdr{endStream: endStream, noEnd: len(block) > 0}, first) {
		return false
	}
	for len(block) > 0 {
		frag := block[:min(len(block), max)]
		block = block[len(frag):]
		if !w.continuation(stream, len(block) == 0, frag) {
			return false
		}
	}
	return true
}

func (w *wireClient) continuation(stream uint32, endHeaders bool, frag []byte) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteContinuation(stream, endHeaders, frag) })
}

func (w *wireClient) data(stream uint32, endStream bool, p []byte) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteData(stream, endStream, p) })
}

func (w *wireClient) dataPadded(stream uint32, endStream bool, p []byte, pad int) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteDataPadded(stream, endStream, p, make([]byte, pad)) })
}

func (w *wireClient) rst(stream uint32, code http2.ErrCode) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteRSTStream(stream, code) })
}

func (w *wireClient) windowUpdate(stream, incr uint32) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(stream, incr) })
}

func (w *wireClient) ping(ack bool, data [8]byte) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WritePing(ack, data) })
}

// settings sends one SETTINGS frame; duplicates and invalid values are
// written as given.
func (w *wireClient) settings(s ...http2.Setting) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteSettings(s...) })
}

func (w *wireClient) settingsAck() bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
}

func (w *wireClient) priority(stream uint32, p http2.PriorityParam) bool {
	return w.frame(func(fr *http2.Framer) error { return fr.WritePriority(stream, p) })
}

func (w *wireClient) pushPromise(stream, promised uint32, block []byte) bool {
	return w.frame(func(fr *http2.Framer) error {
		return fr.WritePushPromise(http2.PushPromiseParam{StreamID: stream, PromiseID: promised, BlockFragment: block, EndHeaders: true})
	})
}

func (w *wireClient) goAway(stream, last uint32, code http2.ErrCode) bool {
	payload := binary.BigEndian.AppendUint32(nil, last)
	payload = binary.BigEndian.AppendUint32(payload, uint32(code))
	return w.raw(http2.FrameGoAway, 0, stream, payload)
}

// unknownFrame sends a frame of a type RFC 9113 does not define.
func (w *wireClient) unknownFrame(stream uint32) bool {
	return w.raw(0xfa, 0x3, stream, []byte("extension"))
}

// wireOutcomeKind is what a test waits for.
type wireOutcomeKind int

const (
	outConnErr   wireOutcomeKind = iota // GOAWAY with code
	outStreamErr                        // RST_STREAM on stream with code
	outStatus                           // a response :status on stream
	outAlive                            // the server answered a PING, no error before it
)

type wireOutcome struct {
	kind    wireOutcomeKind
	stream  uint32
	code    http2.ErrCode
	status  string
	orClose bool // for outConnErr: a close without GOAWAY also matches
	anyCode bool // any error code matches
}

func wantConnErr(code http2.ErrCode) wireOutcome { return wireOutcome{kind: outConnErr, code: code} }

// wantConnEnded: a GOAWAY with any code, or the connection closing.
func wantConnEnded() wireOutcome { return wireOutcome{kind: outConnErr, orClose: true, anyCode: true} }

// wantAnyStreamErr: RST_STREAM on stream with any code.
func wantAnyStreamErr(stream uint32) wireOutcome {
	return wireOutcome{kind: outStreamErr, stream: stream, anyCode: true}
}

// wantConnErrOrClose also accepts the connection closing without a GOAWAY.
func wantConnErrOrClose(code http2.ErrCode) wireOutcome {
	return wireOutcome{kind: outConnErr, code: code, orClose: true}
}

func wantStreamErr(stream uint32, code http2.ErrCode) wireOutcome {
	return wireOutcome{kind: outStreamErr, stream: stream, code: code}
}

func wantStatus(stream uint32, s string) wireOutcome {
	return wireOutcome{kind: outStatus, stream: stream, status: s}
}

// wantAlive: the server answers a PING sent now, with no RST_STREAM or GOAWAY
// before the answer: the frames sent before were accepted or wantIgnored.
func wantAlive() wireOutcome { return wireOutcome{kind: outAlive} }

func (o wireOutcome) String() string {
	switch o.kind {
	case outConnErr:
		if o.anyCode {
			return "GOAWAY (any code, or close)"
		}
		if o.orClose {
			return fmt.Sprintf("GOAWAY %v (or close)", o.code)
		}
		return fmt.Sprintf("GOAWAY %v", o.code)
	case outStreamErr:
		if o.anyCode {
			return fmt.Sprintf("RST_STREAM %d (any code)", o.stream)
		}
		return fmt.Sprintf("RST_STREAM %d %v", o.stream, o.code)
	case outStatus:
		return fmt.Sprintf(":status %s on %d", o.status, o.stream)
	default:
		return "alive (PING answered, no error)"
	}
}

// read reads frames until handle returns true, the connection closes
// (closed is set and read returns false), or wireBound passes (fatal).
// It answers the server's SETTINGS and tracks its receive windows on the
// way.
func (w *wireClient) read(handle func(f http2.Frame) bool) bool {
	w.t.Helper()
	ok, err := w.readErr(handle)
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

// readErr is read returning its failure instead of ending the test.
func (w *wireClient) readErr(handle func(f http2.Frame) bool) (bool, error) {
	if w.closed {
		return false, nil
	}
	_ = w.conn.SetReadDeadline(time.Now().Add(wireBound))
	for {
		f, err := w.rd.ReadFrame()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return false, fmt.Errorf("nothing decisive from the server within %v", wireBound)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, io.ErrUnexpectedEOF) {
				w.closed = true
				return false, nil
			}
			return false, fmt.Errorf("reading the server's frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if w.serverSettings == nil {
					w.serverSettings = map[http2.SettingID]uint32{}
				}
				_ = f.ForeachSetting(func(s http2.Setting) error {
					if s.ID == http2.SettingInitialWindowSize {
						delta := int64(s.Val) - int64(w.serverSetting(http2.SettingInitialWindowSize))
						for id := range w.sendStream {
							w.sendStream[id] += delta
						}
					}
					w.serverSettings[s.ID] = s.Val
					return nil
				})
				w.settingsAck()
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				w.sendConn += int64(f.Increment)
			} else {
				w.sendStream[f.StreamID] += int64(f.Increment)
			}
		}
		if handle(f) {
			return true, nil
		}
	}
}

// serverSetting is the server's value for id, or the RFC default.
func (w *wireClient) serverSetting(id http2.SettingID) uint32 {
	if v, ok := w.serverSettings[id]; ok {
		return v
	}
	switch id {
	case http2.SettingHeaderTableSize:
		return 4096
	case http2.SettingEnablePush:
		return 1
	case http2.SettingMaxConcurrentStreams:
		return 1<<32 - 1
	case http2.SettingInitialWindowSize:
		return 65535
	case http2.SettingMaxFrameSize:
		return 16384
	default:
		return 0
	}
}

// openStream notes that the client opened stream id, for window tracking.
func (w *wireClient) openStream(id uint32) {
	w.sendStream[id] = int64(w.serverSetting(http2.SettingInitialWindowSize))
}

// expect reads until the server shows one of want and returns it; any
// other RST_STREAM, GOAWAY, close or :status fails the test.
func (w *wireClient) expect(want ...wireOutcome) wireOutcome {
	w.t.Helper()
	got, err := w.expectErr(want...)
	if err != nil {
		w.t.Fatal(err)
	}
	return got
}

// expectErr is expect returning its failure instead of ending the test.
func (w *wireClient) expectErr(want ...wireOutcome) (wireOutcome, error) {
	var pingData [8]byte
	for _, o := range want {
		if o.kind == outAlive {
			pingData = w.nextPing()
			w.ping(false, pingData)
			break
		}
	}
	return w.await(pingData, want...)
}

// nextPing is a PING payload not used before on this connection.
func (w *wireClient) nextPing() [8]byte {
	var p [8]byte
	w.pingSeq++
	binary.BigEndian.PutUint64(p[:], w.pingSeq|0x5a<<56)
	return p
}

// await is expectErr for a PING (pingData) the caller already sent.
func (w *wireClient) await(pingData [8]byte, want ...wireOutcome) (wireOutcome, error) {
	var got wireOutcome
	var bad string
	match := func(o wireOutcome) bool {
		for _, x := range want {
			if x.kind == o.kind && x.stream == o.stream && (x.code == o.code || x.anyCode) && x.status == o.status {
				got = x
				return true
			}
		}
		return false
	}
	ok, err := w.readErr(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if match(wireOutcome{kind: outConnErr, code: f.ErrCode}) {
				return true
			}
			bad = fmt.Sprintf("GOAWAY %v (last stream %d, debug %q)", f.ErrCode, f.LastStreamID, f.DebugData())
			return true
		case *http2.RSTStreamFrame:
			if match(wireOutcome{kind: outStreamErr, stream: f.StreamID, code: f.ErrCode}) {
				return true
			}
			if w.otherStreamsFree {
				return false
			}
			bad = fmt.Sprintf("RST_STREAM %d %v", f.StreamID, f.ErrCode)
			return true
		case *http2.MetaHeadersFrame:
			st := f.PseudoValue("status")
			if st == "" || st[0] == '1' {
				return false // trailers or an interim answer
			}
			if match(wireOutcome{kind: outStatus, stream: f.StreamID, status: st}) {
				return true
			}
			if w.otherStreamsFree {
				return false
			}
			bad = fmt.Sprintf(":status %s on %d", st, f.StreamID)
			return true
		case *http2.PingFrame:
			if f.IsAck() && f.Data == pingData && pingData != [8]byte{} {
				if match(wireOutcome{kind: outAlive}) {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		return got, fmt.Errorf("%v; want %v", err, want)
	}
	if !ok {
		for _, x := range want {
			if x.kind == outConnErr && x.orClose {
				return x, nil
			}
		}
		return got, fmt.Errorf("the server closed the connection without a GOAWAY; want %v", want)
	}
	if bad != "" {
		return got, fmt.Errorf("got %s; want %v", bad, want)
	}
	return got, nil
}

// expectBody reads the response on stream until its END_STREAM and
// returns the body and the trailer fields (name, value pairs).
func (w *wireClient) expectBody(stream uint32) (body []byte, trailer []string) {
	w.t.Helper()
	var heads int
	ok := w.read(func(f http2.Frame) bool {
		if f.Header().StreamID != stream {
			if _, isGoAway := f.(*http2.GoAwayFrame); isGoAway {
				w.t.Fatalf("GOAWAY while reading the body of stream %d", stream)
			}
			return false
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			body = append(body, f.Data()...)
			return f.StreamEnded()
		case *http2.MetaHeadersFrame:
			heads++
			if heads > 1 || f.PseudoValue("status") == "" {
				for _, hf := range f.RegularFields() {
					trailer = append(trailer, hf.Name, hf.Value)
				}
			}
			return f.StreamEnded()
		case *http2.RSTStreamFrame:
			w.t.Fatalf("RST_STREAM %v while reading the body of stream %d", f.ErrCode, stream)
		}
		return false
	})
	if !ok {
		w.t.Fatalf("connection closed while reading the body of stream %d", stream)
	}
	return body, trailer
}
