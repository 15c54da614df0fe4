package sslconn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the pump (handshake, Read, Write, Close and deadlines)
// against the fake engine of fake_engine_test.go, over net.Pipe: no C, no
// build tags.

type fakeConns struct {
	client, server       *Conn
	clientEng, serverEng *fakeEngine
	clientRaw, serverRaw net.Conn // the pipe ends under each Conn
	ctx                  *fakeContext
}

// fakePair makes a client and a server Conn on the two ends of a pipe;
// wrap, if not nil, wraps each end (to cut reads short, say).
func fakePair(t *testing.T, wrap func(net.Conn) net.Conn) *fakeConns {
	t.Helper()
	a, b := net.Pipe()
	var craw, sraw net.Conn = a, b
	if wrap != nil {
		craw, sraw = wrap(a), wrap(b)
	}
	fc := &fakeConns{ctx: &fakeContext{}, clientRaw: craw, serverRaw: sraw}
	p := connParams{ctx: fc.ctx, flavor: "fake", timeout: 10 * time.Second}
	fc.server = newConn(sraw, p, "")
	p.isClient = true
	fc.client = newConn(craw, p, "fake.test")
	fc.serverEng, fc.clientEng = fc.ctx.engines[0], fc.ctx.engines[1]
	t.Cleanup(func() { fc.client.Close(); fc.server.Close() })
	// Runs first: with the pipe closed, a Close does not wait five seconds
	// to send close_notify to a peer that no longer reads.
	t.Cleanup(func() { a.Close(); b.Close() })
	return fc
}

// handshake completes both sides' handshakes.
func (fc *fakeConns) handshake(t *testing.T) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- fc.server.HandshakeContext(context.Background()) }()
	require.NoError(t, fc.client.HandshakeContext(context.Background()))
	require.NoError(t, <-errc)
}

// trickleConn hands out at most one byte per Read.
type trickleConn struct{ net.Conn }

func (c trickleConn) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), 1)]) }

func TestPumpHandshakeState(t *testing.T) {
	fc := fakePair(t, nil)
	assert.False(t, fc.client.ConnectionState().HandshakeComplete)
	fc.handshake(t)
	st := fc.client.ConnectionState()
	assert.True(t, st.HandshakeComplete)
	assert.Equal(t, uint16(0x0304), st.Version)
	assert.Equal(t, "fake/1", st.NegotiatedProtocol)
	assert.Equal(t, "fake.test", st.ServerName, "a client reports the name it asked for")
	assert.Equal(t, "fake", fc.client.Backend())
}

func TestPumpShortReads(t *testing.T) {
	fc := fakePair(t, func(c net.Conn) net.Conn { return trickleConn{c} })
	fc.handshake(t)
	msg := make([]byte, 10*fakeMaxPayload+123)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() { _, err := fc.server.Write(msg); errc <- err }()
	var got []byte
	buf := make([]byte, 7) // shorter than any record
	for len(got) < len(msg) {
		n, err := fc.client.Read(buf)
		require.NoError(t, err)
		require.LessOrEqual(t, n, len(buf))
		got = append(got, buf[:n]...)
	}
	require.NoError(t, <-errc)
	assert.Equal(t, msg, got)
}

func TestPumpZeroLength(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	steps := fc.clientEng.steps
	n, err := fc.client.Write(nil)
	assert.Equal(t, 0, n)
	assert.NoError(t, err)
	n, err = fc.client.Read(nil)
	assert.Equal(t, 0, n)
	assert.NoError(t, err)
	assert.Equal(t, steps, fc.clientEng.steps, "no engine step for nothing")
}

// A read step that leaves bytes for the peer (a KeyUpdate's answer) has
// them sent through the write lock, while the reader still gets its data.
func TestPumpWantWriteDuringRead(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	fc.serverEng.requestAnswer()
	// The server writes, then reads: its Read takes the answer off the
	// pipe, which is unbuffered, so that the client's flush can finish.
	got := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		if _, err := fc.server.Write([]byte("hello")); err != nil {
			errc <- err
			return
		}
		buf := make([]byte, 16)
		n, err := fc.server.Read(buf)
		got <- string(buf[:n])
		errc <- err
	}()
	buf := make([]byte, 16)
	n, err := fc.client.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	answered, _ := fc.clientEng.counts()
	assert.Equal(t, 1, answered)

	// The answer went out ahead of what the client writes next.
	_, err = fc.client.Write([]byte("after"))
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.Equal(t, "after", <-got)
	_, acks := fc.serverEng.counts()
	assert.Equal(t, 1, acks)
}

func TestPumpCloseNotify(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	errc := make(chan error, 1)
	go func() { errc <- fc.client.CloseWrite() }()
	n, err := fc.server.Read(make([]byte, 8))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-errc)
	_, err = fc.server.Read(make([]byte, 8))
	assert.ErrorIs(t, err, io.EOF, "end of stream stays")

	_, err = fc.client.Write([]byte("x"))
	assert.ErrorIs(t, err, errShutdown, "no writing after close_notify")
	assert.NoError(t, fc.client.CloseWrite(), "CloseWrite is idempotent")

	// Half-closed: the other direction still works.
	go func() { _, err := fc.server.Write([]byte("still")); errc <- err }()
	buf := make([]byte, 8)
	n, err = fc.client.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "still", string(buf[:n]))
	require.NoError(t, <-errc)

	// Close sends close_notify too.
	go func() { errc <- fc.server.Close() }()
	_, err = fc.client.Read(buf)
	assert.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-errc)
}

func TestPumpCloseWriteBeforeHandshake(t *testing.T) {
	fc := fakePair(t, nil)
	assert.ErrorIs(t, fc.client.CloseWrite(), errNoHSYet)
}

// A deadline that fires while a record is half received returns a
// net.Error with Timeout() true, and loses nothing: once the rest of the
// record arrives, Read returns it.
func TestPumpDeadlineMidStep(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	rec := fakeRecord('A', []byte("split record"))
	require.NoError(t, fc.client.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	wrote := make(chan error, 1)
	go func() { _, err := fc.serverRaw.Write(rec[:5]); wrote <- err }()
	buf := make([]byte, 32)
	n, err := fc.client.Read(buf)
	assert.Equal(t, 0, n)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	require.NoError(t, <-wrote)

	require.NoError(t, fc.client.SetReadDeadline(time.Time{}))
	go func() { _, err := fc.serverRaw.Write(rec[5:]); wrote <- err }()
	n, err = fc.client.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "split record", string(buf[:n]))
	require.NoError(t, <-wrote)
}

func TestPumpWriteDeadline(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	// Nobody reads the server's end: the write blocks until its deadline.
	require.NoError(t, fc.client.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
	_, err := fc.client.Write([]byte("into the void"))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	_, err = fc.client.Write([]byte("x"))
	assert.Error(t, err, "a half-sent record leaves the stream unusable")
}

func TestPumpHandshakeTimeout(t *testing.T) {
	fc := fakePair(t, nil)
	fc.server.timeout = 100 * time.Millisecond
	err := fc.server.HandshakeContext(context.Background()) // the client never speaks
	var ne net.Error
	require.ErrorAs(t, err, &ne, "%v", err)
	assert.True(t, ne.Timeout())
	assert.ErrorIs(t, fc.server.HandshakeContext(context.Background()), err, "the result stays")
}

func TestPumpHandshakeCancelled(t *testing.T) {
	fc := fakePair(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := fc.server.HandshakeContext(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = fc.serverRaw.Write([]byte("x"))
	assert.ErrorIs(t, err, io.ErrClosedPipe, "a cancelled handshake closes the conn")
}

func TestPumpEngineErrorIsSticky(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	go func() { _, _ = fc.serverRaw.Write(fakeRecord('?', nil)) }()
	_, err := fc.client.Read(make([]byte, 8))
	require.EqualError(t, err, "fake: read: bad record")
	_, again := fc.client.Read(make([]byte, 8))
	assert.Equal(t, err, again)
}

func TestPumpGarbageHandshake(t *testing.T) {
	fc := fakePair(t, nil)
	go func() { _, _ = fc.clientRaw.Write([]byte("GET / HTTP/1.1\r\n\r\n")) }()
	err := fc.server.HandshakeContext(context.Background())
	assert.EqualError(t, err, "fake: handshake: bad record")
}

func TestPumpPeerGoneIsEOF(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	require.NoError(t, fc.serverRaw.Close()) // no close_notify
	_, err := fc.client.Read(make([]byte, 8))
	assert.ErrorIs(t, err, io.EOF)
}

// One Read and one Write at once on each side, as HTTP/2 does: over an
// unbuffered pipe this deadlocks unless reading and writing are apart.
func TestPumpConcurrentReadWrite(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	const size = 1 << 20
	send := func(c *Conn, seed uint64) (sum [32]byte, err error) {
		r := rand.New(rand.NewPCG(seed, seed))
		h := sha256.New()
		buf := make([]byte, 4096)
		for sent := 0; sent < size; sent += len(buf) {
			for i := range buf {
				buf[i] = byte(r.Uint32())
			}
			h.Write(buf)
			if _, err := c.Write(buf); err != nil {
				return sum, err
			}
		}
		copy(sum[:], h.Sum(nil))
		return sum, c.CloseWrite()
	}
	recv := func(c *Conn) (sum [32]byte, n int64, err error) {
		h := sha256.New()
		n, err = io.Copy(h, c)
		copy(sum[:], h.Sum(nil))
		return sum, n, err
	}
	var wg sync.WaitGroup
	var sent [2][32]byte
	var got [2][32]byte
	var gotN [2]int64
	var errs [4]error
	for i, c := range []*Conn{fc.client, fc.server} {
		wg.Add(2)
		go func() { defer wg.Done(); sent[i], errs[i] = send(c, uint64(i+1)) }()
		go func() { defer wg.Done(); got[1-i], gotN[1-i], errs[2+i] = recv(c) }()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, [2]int64{size, size}, gotN)
	assert.Equal(t, sent, got)
}

func TestPumpCloseUnblocksRead(t *testing.T) {
	fc := fakePair(t, nil)
	fc.handshake(t)
	go func() { _, _ = io.Copy(io.Discard, fc.serverRaw) }() // swallow close_notify
	readErr := make(chan error, 1)
	go func() { _, err := fc.client.Read(make([]byte, 8)); readErr <- err }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, fc.client.Close())
	select {
	case err := <-readErr:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	assert.True(t, fc.clientEng.closed, "Close frees the engine")
	_, err := fc.client.Write([]byte("x"))
	assert.Error(t, err)
	assert.NoError(t, fc.client.Close(), "Close is idempotent")
}

func TestPumpEngineRefused(t *testing.T) {
	refused := errors.New("no more engines")
	ctx := &fakeContext{failWith: refused}
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(a, connParams{ctx: ctx, flavor: "fake"}, "")
	assert.ErrorIs(t, c.HandshakeContext(context.Background()), refused)
	_, err := c.Write([]byte("x"))
	assert.ErrorIs(t, err, refused)
	assert.NoError(t, c.Close())
}

// The server's ticket goes out in the background over a pipe, so that a
// client that writes first is not stuck; the ticket reaches the client's
// session cache when the client reads it.
func TestPumpTicketReachesCache(t *testing.T) {
	a, b := net.Pipe()
	ctx := &fakeContext{}
	cache := newSessionCache(4)
	srv := newConn(b, connParams{ctx: ctx, flavor: "fake", timeout: 10 * time.Second}, "")
	ctx.engines[0].ticket = true
	cli := newConn(a, connParams{ctx: ctx, flavor: "fake", isClient: true, cache: cache, timeout: 10 * time.Second}, "fake.test")
	defer srv.Close()
	defer cli.Close()
	defer a.Close() // first, so that neither Close waits to send close_notify
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 5)
		_, err := io.ReadFull(srv, buf)
		if err == nil {
			_, err = srv.Write(bytes.ToUpper(buf))
		}
		errc <- err
	}()
	_, err := cli.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(cli, buf)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.Equal(t, "HELLO", string(buf))
	assert.Equal(t, 1, cache.len())

	// The next connection to the name is offered the session.
	next := newConn(a, connParams{ctx: ctx, flavor: "fake", isClient: true, cache: cache}, "fake.test")
	defer next.eng.Close()
	assert.NotNil(t, ctx.offered[2])
}
