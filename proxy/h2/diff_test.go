package h2

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// The frame language of the differential and fuzz tests: each op is three
// octets (kind, a, b), so any byte string is a sequence of ops. Streams
// come from a small set (odd ids in order, 0 and an even id) so that
// sequences hit the state machine rather than only idle streams.
const (
	wopRequest = iota
	wopTrailers
	wopData
	wopRST
	wopWindowUpdate
	wopPing
	wopSettings
	wopPriority
	wopContinuation
	wopOpenBlock // HEADERS without END_HEADERS
	wopUnknown
	wopGoAway
	wopRaw
	wopSettingsAck
	wopKinds
)

// maxWireOps bounds a sequence (with the final PING, the frames it writes).
const maxWireOps = 64

type wireOp struct{ kind, a, b byte }

func decodeOps(data []byte) []wireOp {
	var ops []wireOp
	for i := 0; i+2 < len(data) && len(ops) < maxWireOps; i += 3 {
		ops = append(ops, wireOp{data[i] % wopKinds, data[i+1], data[i+2]})
	}
	return ops
}

var wopStreams = []uint32{1, 3, 5, 7, 0, 2}
var wopPaths = []string{"/", "/echo", "/hold", "/trailer"}

func (op wireOp) apply(w *wireClient) {
	sid := wopStreams[int(op.a)%len(wopStreams)]
	switch op.kind {
	case wopRequest:
		method := "GET"
		if op.b&2 != 0 {
			method = "POST"
		}
		w.request(sid, op.b&1 != 0, reqFields(method, wopPaths[int(op.b>>2)%len(wopPaths)])...)
	case wopTrailers:
		w.headers(sid, wireHdr{endStream: true}, w.block("x-trailer", "1"))
	case wopData:
		w.data(sid, op.b&1 != 0, make([]byte, op.b>>2))
	case wopRST:
		w.rst(sid, http2.ErrCode(op.b%14))
	case wopWindowUpdate:
		w.windowUpdate(sid, uint32(op.b)*257)
	case wopPing:
		w.ping(op.b&1 != 0, [8]byte{op.b})
	case wopSettings:
		switch op.a % 3 {
		case 0:
			w.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(op.b) << 8})
		case 1:
			w.settings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: uint32(op.b) << 4})
		default:
			w.settings(http2.Setting{ID: http2.SettingEnablePush, Val: uint32(op.b % 3)})
		}
	case wopPriority:
		w.priority(sid, http2.PriorityParam{StreamDep: wopStreams[int(op.b)%len(wopStreams)], Weight: op.b})
	case wopContinuation:
		w.continuation(sid, op.b&1 != 0, w.block("x-c", "1"))
	case wopOpenBlock:
		w.headers(sid, wireHdr{noEnd: true, endStream: op.b&1 != 0}, w.block(reqFields("GET", "/")...))
	case wopUnknown:
		w.unknownFrame(sid)
	case wopGoAway:
		w.goAway(0, sid, http2.ErrCode(op.b%14))
	case wopRaw:
		raw := make([]byte, op.rawLen())
		for i := range raw {
			raw[i] = op.b + byte(i)
		}
		w.rawBytes(raw)
	case wopSettingsAck:
		w.settingsAck()
	}
}

// rawLen is how many bytes a wopRaw op writes.
func (op wireOp) rawLen() int { return int(op.a % 16) }

// seqOutcome is the wireOutcome class of a sequence: how the connection ended
// ("" while alive) and, per stream, "ok" or the code of the server's
// RST_STREAM.
type seqOutcome struct {
	conn    string
	streams map[uint32]string
	// What the client did, from the ops (the same for every server):
	// unopened are the streams it sent frames on before opening them, on
	// which a server may refuse a bad frame or ignore it; clientGoAway is
	// whether it sent GOAWAY.
	unopened     map[uint32]bool
	clientGoAway bool
}

// after records in o what ops made the client do.
func (o seqOutcome) after(ops []wireOp) seqOutcome {
	o.unopened = unopenedStreams(ops)
	o.clientGoAway = slices.ContainsFunc(ops, func(op wireOp) bool { return op.kind == wopGoAway })
	return o
}

// endClass is the codeClass of how the connection ended ("" while alive).
func (o seqOutcome) endClass() string { return codeClass[strings.TrimPrefix(o.conn, "GOAWAY ")] }

func (o seqOutcome) String() string {
	var b strings.Builder
	if o.conn == "" {
		b.WriteString("alive")
	} else {
		b.WriteString(o.conn)
	}
	for _, id := range slices.Sorted(maps.Keys(o.streams)) {
		fmt.Fprintf(&b, " %d:%s", id, o.streams[id])
	}
	return b.String()
}

// runSequence plays ops against serve, then a PING, and reads until the
// PING's answer or the connection's end. It fails the test on a hang; the
// wire client's cleanup fails it if the server does not return after the
// client closes.
func runSequence(t *testing.T, serve serverUnderTest, ops []wireOp, sw *serveWaiter) seqOutcome {
	t.Helper()
	w := startWire(t, serve)
	w.waiter = sw
	for _, op := range ops {
		if !op.apply0(w) {
			break
		}
	}
	ping := w.nextPing()
	w.ping(false, ping)
	if slices.ContainsFunc(ops, func(op wireOp) bool { return op.kind == wopRaw && op.rawLen() != 0 }) {
		// Raw bytes shift the framing: the PING may be read as part of a
		// frame whose length promises more. Zeros as long as the largest
		// frame complete it, and what follows them is DATA on stream 0,
		// a connection error: the sequence always ends. When the framing
		// held, the PING's answer comes first and decides.
		w.rawBytes(make([]byte, frameHeaderLen+16<<10))
	}
	out := seqOutcome{streams: map[uint32]string{}}.after(ops)
	ok, err := w.readErr(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			out.conn = "GOAWAY " + f.ErrCode.String()
			return true
		case *http2.RSTStreamFrame:
			// The first reset says what the server refused; a later one
			// answers frames the client sent after it, which a server may
			// ignore instead (RFC 9113 §5.1, closed).
			if prev := out.streams[f.StreamID]; prev == "" || prev == "ok" {
				out.streams[f.StreamID] = f.ErrCode.String()
			}
		case *http2.MetaHeadersFrame:
			if _, seen := out.streams[f.StreamID]; !seen {
				out.streams[f.StreamID] = "ok"
			}
		case *http2.PingFrame:
			return f.IsAck() && f.Data == ping
		}
		return false
	})
	if err != nil {
		t.Fatalf("ops %v: %v", ops, err)
	}
	if !ok {
		out.conn = "closed"
	}
	return out
}

// apply0 applies op unless writing already failed.
func (op wireOp) apply0(w *wireClient) bool {
	if w.writeFailed() {
		return false
	}
	op.apply(w)
	return true
}

// compareOutcomes says how two servers' wireOutcome classes for the same
// sequence differ: the connection's end must be the same, but for the
// races the RFC allows (sameEnd, endedByClient, idleRefused); while both
// connections live, so must every stream's class. After a connection
// error, which streams had answered first is a race, so streams are not
// compared.
func compareOutcomes(a, b seqOutcome) error {
	if a.conn != b.conn && !sameEnd(a, b) && !endedByClient(a, b) && !idleRefused(a, b) {
		return fmt.Errorf("connection: %q vs %q (%v | %v)", a.conn, b.conn, a, b)
	}
	if a.conn != "" || b.conn != "" {
		return nil
	}
	// A stream the reference refused for a protocol error (found while
	// reading, so answered before the PING that ends the sequence) must
	// be refused with the same code. Whether a handler's answer or reset
	// beats that PING is a race, so those are not compared, and the
	// second server may refuse more than the reference (it is stricter).
	for id, code := range a.streams {
		if protocolClass[code] && b.streams[id] != code && !a.unopened[id] {
			return fmt.Errorf("stream %d: %q vs %q (%v | %v)", id, code, b.streams[id], a, b)
		}
	}
	return nil
}

// codeClass groups error codes that say the same thing about what the
// client did: it broke the framing or stream rules (the RFC lets
// FRAME_SIZE_ERROR and STREAM_CLOSED be reported as PROTOCOL_ERROR), its
// flow control, its HPACK, or it ended in order.
var codeClass = map[string]string{
	"PROTOCOL_ERROR": "protocol", "FRAME_SIZE_ERROR": "protocol", "STREAM_CLOSED": "protocol",
	"FLOW_CONTROL_ERROR": "flow", "COMPRESSION_ERROR": "compression",
	"ENHANCE_YOUR_CALM": "calm", "NO_ERROR": "end", "closed": "end",
}

// sameEnd reports whether two different connection ends are the same
// class: equal classes of GOAWAY code, or the reference ending the
// connection for what the other refused on a stream only (a malformed
// request is a stream error, RFC 9113 §8.1.1, where x/net sometimes
// closes the connection).
func sameEnd(a, b seqOutcome) bool {
	ca, cb := a.endClass(), b.endClass()
	if ca != "" && ca == cb {
		return true
	}
	// The other way round only for a stream the second server had
	// answered: frames after END_STREAM are a stream error while the
	// response is still going (half-closed, §5.1) and a connection error
	// once it is done (closed), and which the frame meets is a race.
	if cb != "" && cb != "end" {
		for id, code := range a.streams {
			if codeClass[code] == cb && b.streams[id] == "ok" {
				return true
			}
		}
	}
	if ca == "" || ca == "end" {
		return false
	}
	for _, code := range b.streams {
		if codeClass[code] == ca {
			return true
		}
	}
	return false
}

// endedByClient reports whether the client sent GOAWAY and one server
// ended the connection in order: after the client's GOAWAY a server may
// close as soon as nothing is open (RFC 9113 §6.8), so whether it still
// reads and refuses the frames behind it is a race, on x/net as here.
func endedByClient(a, b seqOutcome) bool {
	return a.clientGoAway && (a.endClass() == "end" || b.endClass() == "end")
}

// idleRefused reports whether the reference refused, as a stream error, a
// frame on a stream the client never opened, where the second server
// ended the connection with an error of the same class: a frame other
// than HEADERS or PRIORITY on an idle stream is a connection error (RFC
// 9113 §5.1), which x/net checks only after the frame's own rules.
func idleRefused(a, b seqOutcome) bool {
	cb := b.endClass()
	if cb == "" || cb == "end" {
		return false
	}
	for id, code := range a.streams {
		if a.unopened[id] && codeClass[code] == cb {
			return true
		}
	}
	return false
}

// unopenedStreams are the streams that ops send a frame on before (or
// without) opening them.
func unopenedStreams(ops []wireOp) map[uint32]bool {
	opened, idle := map[uint32]bool{}, map[uint32]bool{}
	for _, op := range ops {
		id := wopStreams[int(op.a)%len(wopStreams)]
		switch op.kind {
		case wopRequest, wopOpenBlock:
			opened[id] = true
		case wopTrailers, wopData, wopRST, wopWindowUpdate, wopContinuation:
			if !opened[id] {
				idle[id] = true
			}
		}
	}
	return idle
}

// protocolClass are the reset codes a server sends for what it read.
var protocolClass = map[string]bool{
	"PROTOCOL_ERROR": true, "STREAM_CLOSED": true, "FLOW_CONTROL_ERROR": true,
	"FRAME_SIZE_ERROR": true, "REFUSED_STREAM": true,
}

// goroutinesBack waits, bounded, for the goroutine count to return to
// baseline (a little slack for the runtime's own).
func goroutinesBack(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(wireBound)
	for runtime.NumGoroutine() > baseline+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines %v after the connection ended, %d before:\n%s", runtime.NumGoroutine(), wireBound, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkSequence runs ops against every server under test, each on a
// fresh connection, checks that each returns and leaves no goroutine
// behind, and with two servers or more compares their wireOutcome classes
// with the first's.
// sw, when given, collects the servers' wind-downs for the caller to wait
// on (and to count goroutines after); without it each is waited for here.
func checkSequence(t *testing.T, ops []wireOp, sw *serveWaiter) {
	t.Helper()
	var outs []seqOutcome
	for _, s := range servers {
		baseline := runtime.NumGoroutine()
		var out seqOutcome
		t.Run(s.name, func(t *testing.T) {
			out = runSequence(t, s.serve, ops, sw)
		})
		if sw == nil {
			goroutinesBack(t, baseline)
		}
		outs = append(outs, out)
	}
	for i := 1; i < len(outs); i++ {
		if err := compareOutcomes(outs[0], outs[i]); err != nil {
			t.Errorf("%s vs %s on ops %v: %v", servers[0].name, servers[i].name, ops, err)
		}
	}
}

// TestH2DifferentialSequences plays fixed-seed random frame sequences;
// once every server returned, the goroutine count must be back to where
// it was.
func TestH2DifferentialSequences(t *testing.T) {
	baseline := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(9113, 7541))
	sw := &serveWaiter{}
	for i := 0; i < 40; i++ {
		raw := make([]byte, 3*(1+rng.IntN(24)))
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		ops := decodeOps(raw)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkSequence(t, ops, sw) })
	}
	sw.wait(t)
	goroutinesBack(t, baseline)
}

// TestH2CompareOutcomes pins what the comparison treats as the same.
func TestH2CompareOutcomes(t *testing.T) {
	alive1 := seqOutcome{streams: map[uint32]string{1: "ok", 3: "PROTOCOL_ERROR"}}
	same := seqOutcome{streams: map[uint32]string{1: "ok", 3: "PROTOCOL_ERROR"}}
	other := seqOutcome{streams: map[uint32]string{1: "ok", 3: "STREAM_CLOSED"}}
	goneA := seqOutcome{conn: "GOAWAY PROTOCOL_ERROR", streams: map[uint32]string{1: "ok"}}
	goneB := seqOutcome{conn: "GOAWAY PROTOCOL_ERROR", streams: map[uint32]string{}}
	goneC := seqOutcome{conn: "GOAWAY FLOW_CONTROL_ERROR"}
	goneD := seqOutcome{conn: "GOAWAY FRAME_SIZE_ERROR"}
	streamOnly := seqOutcome{streams: map[uint32]string{5: "PROTOCOL_ERROR"}}
	if err := compareOutcomes(alive1, same); err != nil {
		t.Error(err)
	}
	if compareOutcomes(alive1, other) == nil {
		t.Error("different stream codes compared equal")
	}
	if err := compareOutcomes(goneA, goneB); err != nil {
		t.Errorf("streams raced by a connection error must not count: %v", err)
	}
	if compareOutcomes(goneA, goneC) == nil || compareOutcomes(alive1, goneA) == nil {
		t.Error("different connection ends compared equal")
	}
	if err := compareOutcomes(goneA, goneD); err != nil {
		t.Errorf("FRAME_SIZE_ERROR is a protocol error too: %v", err)
	}
	if err := compareOutcomes(goneA, streamOnly); err != nil {
		t.Errorf("a connection error against a stream error of its class: %v", err)
	}
	if compareOutcomes(goneC, streamOnly) == nil {
		t.Error("a flow-control connection error against a protocol stream error compared equal")
	}
	halfClosed := seqOutcome{streams: map[uint32]string{1: "STREAM_CLOSED"}}
	closed := seqOutcome{conn: "GOAWAY PROTOCOL_ERROR", streams: map[uint32]string{1: "ok"}}
	if err := compareOutcomes(halfClosed, closed); err != nil {
		t.Errorf("HEADERS after END_STREAM, met half-closed by one and closed by the other: %v", err)
	}
	if compareOutcomes(halfClosed, goneB) == nil {
		t.Error("a connection error against a stream error on a stream it never answered compared equal")
	}
	closedZero := seqOutcome{streams: map[uint32]string{1: "PROTOCOL_ERROR"}, unopened: map[uint32]bool{1: true}}
	if err := compareOutcomes(closedZero, seqOutcome{streams: map[uint32]string{3: "ok"}}); err != nil {
		t.Errorf("a reset on a stream the client never opened, against ignoring it: %v", err)
	}
	idleStream := seqOutcome{streams: map[uint32]string{1: "PROTOCOL_ERROR"}}
	if !idleRefused(idleStream.after([]wireOp{{kind: wopWindowUpdate}}), goneB) {
		t.Error("a connection error for a frame on an idle stream against the reference's stream error must be excused")
	}
	if !idleRefused(idleStream.after([]wireOp{{kind: wopWindowUpdate}, {kind: wopRequest}}), goneB) {
		t.Error("a frame before the stream was opened met it idle")
	}
	if idleRefused(idleStream.after([]wireOp{{kind: wopRequest}, {kind: wopWindowUpdate}}), goneB) {
		t.Error("idleRefused excused a stream the client had opened")
	}
	endNo := seqOutcome{conn: "GOAWAY NO_ERROR"}
	withGoAway := []wireOp{{kind: wopGoAway}, {kind: wopRaw, a: 4}}
	if !endedByClient(goneD.after(withGoAway), endNo) {
		t.Error("an orderly end after the client's GOAWAY must not count against a later frame error")
	}
	if endedByClient(goneD.after([]wireOp{{kind: wopRaw, a: 4}}), endNo) || endedByClient(goneD.after(withGoAway), goneC) {
		t.Error("endedByClient excused a difference without a client GOAWAY or an orderly end")
	}
}
