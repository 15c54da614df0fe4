package h2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2"
)

// flowSeeds bound the property test: each seed is one connection with a
// random request body, random DATA sizes and padding, and a random series
// of the client's WINDOW_UPDATEs and SETTINGS_INITIAL_WINDOW_SIZE changes
// while the echoed body comes back.
var flowSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// TestH2FlowControlProperty: the server never sends more DATA than the
// client's stream and connection windows allow (RFC 9113 §6.9, §6.9.2),
// never needs more from the client than the window it advertised (a
// client that keeps to it gets the whole echo, no FLOW_CONTROL_ERROR), and
// the whole body arrives intact.
func TestH2FlowControlProperty(t *testing.T) {
	forEachServer(t, func(t *testing.T, serve serverUnderTest, _ bool) {
		for _, seed := range flowSeeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				t.Parallel()
				if err := flowCase(t, serve, seed); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			})
		}
	})
}

// clientWindows are the windows the client gave the server for stream 1 and
// the connection. While a SETTINGS_INITIAL_WINDOW_SIZE change is not yet
// acknowledged the server may use the old or the new stream window, so
// both are kept until the ACK.
type clientWindows struct {
	conn, stream int64
	pending      bool
	streamNew    int64 // the stream window under the unacknowledged setting
	initial      int64 // the initial window size the client last announced
}

// allows reports whether a DATA frame of n flow-controlled octets fits.
func (rw *clientWindows) allows(n int64) bool {
	s := rw.stream
	if rw.pending && rw.streamNew > s {
		s = rw.streamNew
	}
	return n <= s && n <= rw.conn
}

func (rw *clientWindows) take(n int64) {
	rw.conn -= n
	rw.stream -= n
	rw.streamNew -= n
}

func (rw *clientWindows) grantStream(n int64) {
	rw.stream += n
	rw.streamNew += n
}

// lowStream is the smaller stream window the server might be using.
func (rw *clientWindows) lowStream() int64 {
	if rw.pending && rw.streamNew < rw.stream {
		return rw.streamNew
	}
	return rw.stream
}

func flowCase(t *testing.T, serve serverUnderTest, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x68327461626c6573))
	initials := []uint32{0, 1, 100, 16384, 65535, uint32(rng.IntN(200000))}
	iws := initials[rng.IntN(len(initials))]
	w := startWire(t, serve, http2.Setting{ID: http2.SettingInitialWindowSize, Val: iws})
	body := make([]byte, rng.IntN(300000))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}

	// Upload: keep to the server's windows as seen so far; when they are
	// spent, wait for its WINDOW_UPDATEs.
	w.request(1, len(body) == 0, reqFields("POST", "/echo")...)
	w.openStream(1)
	maxFrame := int64(w.serverSetting(http2.SettingMaxFrameSize))
	for sent := 0; sent < len(body); {
		avail := min(w.sendConn, w.sendStream[1], maxFrame)
		if avail <= 0 {
			var failure error
			ok := w.read(func(f http2.Frame) bool {
				switch f := f.(type) {
				case *http2.RSTStreamFrame:
					failure = fmt.Errorf("RST_STREAM %v during an upload within the windows", f.ErrCode)
				case *http2.GoAwayFrame:
					failure = fmt.Errorf("GOAWAY %v during an upload within the windows", f.ErrCode)
				}
				return true
			})
			if failure != nil || !ok {
				return fmt.Errorf("after %d of %d bytes: %v (closed %v)", sent, len(body), failure, w.closed)
			}
			continue
		}
		n := 1 + rng.Int64N(min(avail, int64(len(body)-sent)))
		end := sent+int(n) == len(body)
		if avail > n && rng.IntN(3) == 0 {
			pad := 1 + rng.Int64N(min(256, avail-n))
			w.dataPadded(1, end, body[sent:sent+int(n)], int(pad-1))
			n += pad // the pad length octet and the padding count (§6.9.1)
			sent += int(n - pad)
		} else {
			w.data(1, end, body[sent:sent+int(n)])
			sent += int(n)
		}
		w.sendConn -= n
		w.sendStream[1] -= n
	}

	// Download: check every DATA against the windows given, and give more
	// in random ways, always enough that the server can go on.
	rw := &clientWindows{conn: 65535, stream: int64(iws), streamNew: int64(iws), initial: int64(iws)}
	var got []byte
	var failure error
	sawHead, done := false, false
	var frames, stalls int
	progress := func() {
		if done || !sawHead {
			return
		}
		if rw.lowStream() <= 0 || rw.conn <= 0 {
			stalls++
		}
		if low := rw.lowStream(); low <= 0 {
			inc := 1 - low + rng.Int64N(40000)
			w.windowUpdate(1, uint32(inc))
			rw.grantStream(inc)
		}
		if rw.conn <= 0 {
			inc := 1 - rw.conn + rng.Int64N(70000)
			w.windowUpdate(0, uint32(inc))
			rw.conn += inc
		}
	}
	ok := w.read(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && f.PseudoValue("status") != "" {
				if s := f.PseudoValue("status"); s != "200" {
					failure = fmt.Errorf(":status %s", s)
					return true
				}
				sawHead = true
			}
			done = f.StreamEnded()
		case *http2.DataFrame:
			n := int64(f.Header().Length)
			if !rw.allows(n) {
				failure = fmt.Errorf("DATA of %d flow-controlled octets with stream window %d (%d under the pending setting %v) and connection window %d",
					n, rw.stream, rw.streamNew, rw.pending, rw.conn)
				return true
			}
			rw.take(n)
			frames++
			got = append(got, f.Data()...)
			done = f.StreamEnded()
			switch rng.IntN(6) {
			case 0:
				inc := 1 + rng.Int64N(30000)
				w.windowUpdate(1, uint32(inc))
				rw.grantStream(inc)
			case 1:
				inc := 1 + rng.Int64N(50000)
				w.windowUpdate(0, uint32(inc))
				rw.conn += inc
			case 2:
				if !rw.pending && !done {
					v := int64(rng.IntN(70000))
					w.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(v)})
					rw.pending = true
					rw.streamNew = rw.stream + v - rw.initial
					rw.initial = v
				}
			}
		case *http2.SettingsFrame:
			if f.IsAck() && rw.pending {
				rw.pending = false
				rw.stream = rw.streamNew
			}
		case *http2.RSTStreamFrame:
			failure = fmt.Errorf("RST_STREAM %v", f.ErrCode)
			return true
		case *http2.GoAwayFrame:
			failure = fmt.Errorf("GOAWAY %v", f.ErrCode)
			return true
		}
		progress()
		return done
	})
	if failure != nil {
		return failure
	}
	if !ok {
		return fmt.Errorf("connection closed after %d of %d echoed bytes", len(got), len(body))
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("echo of %d bytes came back as %d bytes, not the same", len(body), len(got))
	}
	t.Logf("initial window %d, body %d bytes, %d DATA frames back, %d stalls on the client's windows", iws, len(body), frames, stalls)
	return nil
}

// TestH2FlowControlReceiveWindowExact: a client that sends exactly the
// window the server advertised (stream and connection, WINDOW_UPDATEs
// included) is fine; one octet more is a FLOW_CONTROL_ERROR (§6.9.1). The
// stream's handler (/hold) never reads, so the window is not reopened.
func TestH2FlowControlReceiveWindowExact(t *testing.T) {
	forEachServer(t, func(t *testing.T, serve serverUnderTest, _ bool) {
		w := startWire(t, serve)
		w.request(1, false, reqFields("POST", "/hold")...)
		w.openStream(1)
		maxFrame := int64(w.serverSetting(http2.SettingMaxFrameSize))
		var total int64
		for round := 0; ; round++ {
			budget := min(w.sendConn, w.sendStream[1])
			if budget == 0 {
				break
			}
			if round == 64 {
				t.Fatalf("the server keeps reopening the window of a stream whose handler reads nothing (%d bytes taken)", total)
			}
			for budget > 0 {
				n := min(budget, maxFrame)
				w.data(1, false, make([]byte, n))
				budget -= n
				total += n
				w.sendConn -= n
				w.sendStream[1] -= n
			}
			w.expect(wantAlive()) // all of it accepted, and any WINDOW_UPDATE before the answer seen
		}
		t.Logf("%d bytes sent, exactly the advertised windows", total)
		w.data(1, false, []byte{0})
		w.expect(wantStreamErr(1, http2.ErrCodeFlowControl), wantConnErr(http2.ErrCodeFlowControl))
	})
}
