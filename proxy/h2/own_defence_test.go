package h2

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// The defences and behaviours of Gantry's server that need its options
// (short limits) or its handler API; the tables run the rest against
// both servers.

// ownWith serves with o (MaxConcurrentStreams 100 when unset) and h.
func ownWith(o ServerOptions, h Handler, srvOut **Server) serverUnderTest {
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 100
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	return func(t *testing.T, c net.Conn) {
		s, err := NewServer(o)
		if err != nil {
			t.Error(err)
			return
		}
		if srvOut != nil {
			*srvOut = s
		}
		s.ServeConn(context.Background(), c, h)
	}
}

func answer(st *Stream) {
	if st.WriteHead(200, nil, -1) == nil {
		_, _ = st.Write([]byte("ok"))
		_ = st.Finish(nil)
	}
}

// TestOwnMadeYouReset: streams the server reset for the client's errors
// keep their slot while their handler runs (CVE-2025-8671), and a client
// provoking resets on most streams loses the connection.
func TestOwnMadeYouReset(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	h := func(st *Stream) {
		if st.Path() == "/slow" {
			started <- struct{}{}
			<-release // ignores the reset, as slow work does
			return
		}
		answer(st)
	}
	w := startWire(t, ownWith(ServerOptions{MaxConcurrentStreams: 4}, h, nil))
	for i := range uint32(4) {
		id := 1 + 2*i
		w.request(id, false, reqFields("POST", "/slow")...)
		<-started
		w.windowUpdate(id, 0) // provokes RST_STREAM PROTOCOL_ERROR
		w.expect(wantStreamErr(id, http2.ErrCodeProtocol))
	}
	// Four handlers still run: a fifth stream has no slot.
	w.request(9, true, reqFields("GET", "/")...)
	w.expect(wantStreamErr(9, http2.ErrCodeRefusedStream))
	close(release)
	// Once they returned, the slots are free again: their return, not a
	// timer, frees them.
	served := false
	for id := uint32(11); id < 211 && !served; id += 2 {
		w.request(id, true, reqFields("GET", "/")...)
		out, err := w.expectErr(wantStatus(id, "200"), wantStreamErr(id, http2.ErrCodeRefusedStream))
		require.NoError(t, err)
		served = out.kind == outStatus
		if !served {
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.True(t, served, "the slots of returned handlers never came back")

	// Provoked resets on most streams: malformed requests, 300 of them.
	w2 := startWire(t, ownWith(ServerOptions{}, answer, nil))
	w2.otherStreamsFree = true
	for i := range uint32(300) {
		w2.request(1+2*i, true, reqFields("GET", "/", "Upper", "x")...)
	}
	w2.expect(wantConnErrOrClose(http2.ErrCodeEnhanceYourCalm))
}

// TestOwnZeroWindowStall: a client that gives no flow-control window gets
// its stream cancelled after WriteTimeout; the connection goes on.
func TestOwnZeroWindowStall(t *testing.T) {
	writeErr := make(chan error, 1)
	h := func(st *Stream) {
		if err := st.WriteHead(200, nil, -1); err != nil {
			writeErr <- err
			return
		}
		_, err := st.Write([]byte("never sent"))
		writeErr <- err
	}
	w := startWire(t, ownWith(ServerOptions{WriteTimeout: 100 * time.Millisecond}, h, nil),
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	w.request(1, true, reqFields("GET", "/")...)
	w.otherStreamsFree = true // the head goes out; the DATA never can
	w.expect(wantStreamErr(1, http2.ErrCodeCancel))
	assert.ErrorIs(t, <-writeErr, ErrWriteTimeout)
	w.expect(wantAlive())
}

// TestOwnClientStopsReading: a client that stops reading loses its
// connection after WriteTimeout; the server's goroutines all return.
func TestOwnClientStopsReading(t *testing.T) {
	big := make([]byte, 1<<20)
	writeErr := make(chan error, 1)
	h := func(st *Stream) {
		_ = st.WriteHead(200, nil, -1)
		var err error
		for i := 0; i < 16 && err == nil; i++ {
			if _, err = st.Write(big); err == nil {
				err = st.Flush()
			}
		}
		writeErr <- err
	}
	w := startWire(t, ownWith(ServerOptions{WriteTimeout: 100 * time.Millisecond}, h, nil),
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	w.windowUpdate(0, 1<<31-1-65535)
	w.request(1, true, reqFields("GET", "/")...)
	// The client reads nothing more: the server's writes block on the
	// pipe until their deadline.
	select {
	case err := <-writeErr:
		assert.Error(t, err)
	case <-time.After(wireBound):
		t.Fatal("the handler's writes never failed")
	}
	select {
	case <-w.served:
	case <-time.After(wireBound):
		t.Fatal("ServeConn did not return for a client that stopped reading")
	}
}

// TestOwnStreamIdleCancel: a request body that sends nothing for
// StreamIdle is answered with RST_STREAM CANCEL, and the handler's read
// ends with ErrStreamIdle.
func TestOwnStreamIdleCancel(t *testing.T) {
	readErr := make(chan error, 1)
	h := func(st *Stream) {
		_, err := io.ReadAll(st)
		readErr <- err
	}
	w := startWire(t, ownWith(ServerOptions{StreamIdle: 100 * time.Millisecond}, h, nil))
	w.request(1, false, reqFields("POST", "/")...)
	w.data(1, false, []byte("some"))
	w.expect(wantStreamErr(1, http2.ErrCodeCancel))
	assert.ErrorIs(t, <-readErr, ErrStreamIdle)
	w.expect(wantAlive())
}

// TestOwnExpectContinue: a request with expect: 100-continue gets the
// interim 100 once its handler reads the body, before the client sends it.
func TestOwnExpectContinue(t *testing.T) {
	h := func(st *Stream) {
		b, err := io.ReadAll(st)
		if err != nil {
			return
		}
		_ = st.WriteHead(200, nil, int64(len(b)))
		_, _ = st.Write(b)
		_ = st.Finish(nil)
	}
	w := startWire(t, ownWith(ServerOptions{}, h, nil))
	w.request(1, false, reqFields("POST", "/", "expect", "100-continue")...)
	got100 := w.read(func(f http2.Frame) bool {
		mh, ok := f.(*http2.MetaHeadersFrame)
		return ok && mh.StreamID == 1 && mh.PseudoValue("status") == "100"
	})
	require.True(t, got100, "no 100 Continue")
	w.data(1, true, []byte("body"))
	body, _ := w.expectBody(1)
	assert.Equal(t, "body", string(body))
}

// TestOwnGracefulShutdown: Shutdown sends GOAWAY in two steps (RFC 9113
// §6.8): the first names the largest stream ID and comes with a PING;
// once that is answered, the final one names the last stream opened; a
// stream opened after it is ignored, the one in flight completes, and
// the connection then closes.
func TestOwnGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	inFlight := make(chan struct{}, 1)
	h := func(st *Stream) {
		if st.Path() == "/slow" {
			inFlight <- struct{}{}
			<-release
		}
		answer(st)
	}
	var srv *Server
	w := startWire(t, ownWith(ServerOptions{}, h, &srv))
	w.request(1, true, reqFields("GET", "/slow")...)
	<-inFlight
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wireBound)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	var lasts []uint32
	ok := w.read(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			require.Equal(t, http2.ErrCodeNo, f.ErrCode)
			lasts = append(lasts, f.LastStreamID)
			return len(lasts) == 2
		case *http2.PingFrame:
			if !f.IsAck() {
				w.ping(true, f.Data)
			}
		}
		return false
	})
	require.True(t, ok, "connection closed before the final GOAWAY")
	assert.Equal(t, []uint32{1<<31 - 1, 1}, lasts)
	w.request(3, true, reqFields("GET", "/")...) // after the final GOAWAY: ignored
	close(release)
	body, _ := w.expectBody(1)
	assert.Equal(t, "ok", string(body))
	select {
	case err := <-shut:
		assert.NoError(t, err)
	case <-time.After(wireBound):
		t.Fatal("Shutdown did not return")
	}
	assert.False(t, w.read(func(f http2.Frame) bool {
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamID == 3
	}), "stream 3 was served after the final GOAWAY")
}
