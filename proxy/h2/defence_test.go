package h2

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/net/http2"
)

// The flood defences, over a net.Pipe: every flood is a bounded number of
// frames, sent in chunks of floodChunk frames. "Accepted" means the server
// read the chunk; a server that ends the connection, or stops reading,
// before the flood is over passes. Nothing here measures time.
const (
	floodChunk  = 100
	floodChunks = 1000 // 100k frames
)

// floodRow is one flood: prepare sets the connection up, frame encodes one
// frame of the flood, and the client reads (answers) only when reads is set.
type floodRow struct {
	name    string
	prepare func(w *wireClient)
	frame   func(fr *http2.Framer) error
	// reads: the client keeps reading while it floods; otherwise it never
	// reads, so the server's answers pile up unless it bounds them.
	reads bool
	// want: the wireOutcome after the flood, when the client reads.
	want []wireOutcome
	// cut: the connection must end before the server read the whole flood.
	cut          bool
	xnetDeviates bool
}

func TestH2WireFloods(t *testing.T) {
	calm := []wireOutcome{wantConnErrOrClose(http2.ErrCodeEnhanceYourCalm)}
	rows := []floodRow{
		// Rapid reset (CVE-2023-44487): open a stream and reset it, 1000
		// times; the server must end the connection with ENHANCE_YOUR_CALM.
		{name: "rapid reset", reads: true, want: calm, xnetDeviates: true},
		// CONTINUATION flood (CVE-2024-27316 class): a header block that
		// never ends; the connection must end before a few MB are read.
		{name: "CONTINUATION", reads: true, cut: true, want: []wireOutcome{wantConnEnded()}, prepare: func(w *wireClient) {
			w.headers(1, wireHdr{noEnd: true, endStream: true}, w.block(reqFields("GET", "/")...))
		}, frame: func(fr *http2.Framer) error {
			return fr.WriteContinuation(1, false, bytes.Repeat([]byte{0x40, 0x01, 'x', 0x01, 'y'}, 8))
		}},
		// PING flood, the client never reading the ACKs.
		{name: "PING", frame: func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{7}) }},
		// SETTINGS flood, the client never reading the ACKs. x/net reads
		// them all and sends one ACK for many, bounded but not what
		// §6.5.3 says (each SETTINGS is acknowledged).
		{name: "SETTINGS", xnetDeviates: true, frame: func(fr *http2.Framer) error { return fr.WriteSettings() }},
		// Empty DATA frames on an open stream cost the server work and
		// carry nothing.
		{name: "empty DATA", reads: true, want: calm, xnetDeviates: true, prepare: openPost, frame: func(fr *http2.Framer) error {
			return fr.WriteData(1, false, nil)
		}},
		// WINDOW_UPDATE flood on the connection.
		{name: "WINDOW_UPDATE", reads: true, want: calm, xnetDeviates: true, frame: func(fr *http2.Framer) error {
			return fr.WriteWindowUpdate(0, 1)
		}},
		// RST_STREAM flood on a stream already closed (which §5.4.2 says
		// not to answer, so it costs only the server).
		{name: "RST_STREAM on a closed stream", reads: true, want: calm, xnetDeviates: true, prepare: func(w *wireClient) {
			openPost(w)
			w.rst(1, http2.ErrCodeCancel)
		}, frame: func(fr *http2.Framer) error { return fr.WriteRSTStream(1, http2.ErrCodeCancel) }},
	}
	forEachServer(t, func(t *testing.T, serve serverUnderTest, xnet bool) {
		for _, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				err := runFlood(t, serve, r)
				switch {
				case err == nil && r.xnetDeviates && xnet:
					t.Logf("x/net now defends against this flood: drop xnetDeviates")
				case err == nil:
				case r.xnetDeviates && xnet:
					t.Logf("x/net does not defend (known, not asserted): %v", err)
				default:
					t.Fatal(err)
				}
			})
		}
	})
}

// rapidResetChunk opens and resets floodChunk/2 streams, the c-th such
// batch of the connection.
func rapidResetChunk(w *wireClient, c int) []byte {
	var chunk []byte
	for i := 0; i < floodChunk/2; i++ {
		id := uint32(1 + 2*(c*floodChunk/2+i))
		chunk = append(chunk, w.encode(func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: w.block(reqFields("POST", "/")...), EndHeaders: true})
		})...)
		chunk = append(chunk, w.encode(func(fr *http2.Framer) error { return fr.WriteRSTStream(id, http2.ErrCodeCancel) })...)
	}
	return chunk
}

func runFlood(t *testing.T, serve serverUnderTest, r floodRow) error {
	baseline := runtime.NumGoroutine()
	w := startWire(t, serve)
	w.otherStreamsFree = true
	if r.prepare != nil {
		r.prepare(w)
	}
	var chunks [][]byte
	if r.frame == nil { // rapid reset: 1000 streams
		for c := 0; c < 1000/(floodChunk/2); c++ {
			chunks = append(chunks, rapidResetChunk(w, c))
		}
	} else {
		chunk := bytes.Repeat(w.encode(r.frame), floodChunk)
		for c := 0; c < floodChunks; c++ {
			chunks = append(chunks, chunk)
		}
	}
	ping := w.nextPing()
	pingFrame := w.encode(func(fr *http2.Framer) error { return fr.WritePing(false, ping) })
	before := w.written.Load()
	// The flood is queued from its own goroutine so that this one can read
	// the server's answers while it lasts; the PING goes last.
	queued := make(chan struct{})
	go func() {
		defer close(queued)
		for _, c := range chunks {
			if !w.send(c) {
				return
			}
		}
		w.send(pingFrame)
	}()
	if !r.reads {
		<-queued
		during := runtime.NumGoroutine()
		<-w.drained()
		if during > baseline+64 {
			return fmt.Errorf("%d goroutines during the flood, %d before it", during, baseline)
		}
		// The client never read: the server must have ended the connection
		// or stopped reading (the writer failed) rather than queue answers.
		if !w.writeFailed() {
			return fmt.Errorf("the server read all %d %s frames while the client read none of its answers", len(chunks)*floodChunk, r.name)
		}
		t.Logf("the server read %d of %d chunks of %d frames, then ended the connection or stopped reading (%v)", w.written.Load()-before, len(chunks), floodChunk, w.writeErr.Load())
		return nil
	}
	got, err := w.await(ping, append(r.want, wantAlive())...)
	<-queued
	if err != nil {
		return err
	}
	if r.cut {
		<-w.drained()
		if n := w.written.Load() - before; !w.writeFailed() {
			return fmt.Errorf("the server read all %d chunks of %d %s frames (%d writes) before ending the connection", len(chunks), floodChunk, r.name, n)
		}
	}
	if got.kind == outAlive {
		return fmt.Errorf("the server read all %d chunks of %d %s frames (%d writes) and still answers", len(chunks), floodChunk, r.name, w.written.Load()-before)
	}
	return nil
}

// TestH2WireHPACKBomb: one large literal is indexed, then a block refers
// to it thousands of times (12 MB decoded from 7 KB). The server must
// refuse (431, or a stream or connection error) without decoding it all.
func TestH2WireHPACKBomb(t *testing.T) {
	forEachServer(t, func(t *testing.T, serve serverUnderTest, _ bool) {
		w := startWire(t, serve)
		block := []byte{0x82, 0x87, 0x84}         // GET https /
		block = append(block, 0x40, 0x06)         // literal, indexed, new name of 6
		block = append(block, "x-bomb"...)        // name
		block = appendHpackInt(block, 0, 7, 4000) // value length 4000
		block = append(block, bytes.Repeat([]byte{'a'}, 4000)...)
		block = append(block, bytes.Repeat([]byte{0xbe}, 3000)...) // index 62: x-bomb, 3000 times
		w.headers(1, wireHdr{endStream: true}, block)
		got := w.expect(wantStatus(1, "431"), wantAnyStreamErr(1), wantConnEnded())
		t.Logf("HPACK bomb: %v", got)
	})
}
