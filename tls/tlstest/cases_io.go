package tlstest

import (
	"bytes"
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

	"github.com/gantry-proxy/gantry/tls"
)

// pairOf is openPair with the backend in both roles.
func pairOf(t *testing.T, b tls.Backend) (sc, cc tls.Conn) { return openPair(t, b, b) }

func closeCases() []testCase {
	return []testCase{
		{"CloseNotifyGivesEOF", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			_, err := cc.Write([]byte("bye"))
			require.NoError(t, err)
			require.NoError(t, cc.Close())
			got, err := io.ReadAll(sc)
			assert.NoError(t, err, "a peer that sent close_notify ends the stream cleanly")
			assert.Equal(t, "bye", string(got))
			n, err := sc.Read(make([]byte, 1))
			assert.Equal(t, 0, n)
			assert.ErrorIs(t, err, io.EOF, "reads after close_notify keep returning io.EOF")
		}},
		{"ServerCloseGivesClientEOF", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			require.NoError(t, sc.Close())
			_, err := cc.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF)
		}},
		{"CloseWriteHalfClose", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			_, err := cc.Write([]byte("request"))
			require.NoError(t, err)
			require.NoError(t, cc.CloseWrite())
			got, err := io.ReadAll(sc)
			require.NoError(t, err, "server reads to EOF after the client's close_notify")
			assert.Equal(t, "request", string(got))
			_, err = sc.Write([]byte("response"))
			require.NoError(t, err, "the half-closed peer still accepts data")
			require.NoError(t, sc.Close())
			got, err = io.ReadAll(cc)
			require.NoError(t, err)
			assert.Equal(t, "response", string(got), "the half-closed side still reads")
		}},
		{"WriteAfterCloseWriteFails", func(t *testing.T, b tls.Backend) {
			_, cc := pairOf(t, b)
			require.NoError(t, cc.CloseWrite())
			_, err := cc.Write([]byte("late"))
			assert.Error(t, err)
		}},
		{"ReadAfterCloseFails", func(t *testing.T, b tls.Backend) {
			_, cc := pairOf(t, b)
			require.NoError(t, cc.Close())
			_, err := cc.Read(make([]byte, 1))
			assert.Error(t, err)
			_, err = cc.Write([]byte("x"))
			assert.Error(t, err)
			assert.NotPanics(t, func() { _ = cc.Close() }, "a second Close is safe")
		}},
		{"CloseUnblocksRead", func(t *testing.T, b tls.Backend) {
			_, cc := pairOf(t, b)
			errc := make(chan error, 1)
			go func() {
				_, err := cc.Read(make([]byte, 1))
				errc <- err
			}()
			// Either order (Close first, or Read blocked first) must end
			// the Read with an error, never with data or a hang.
			require.NoError(t, cc.Close())
			err := <-errc
			assert.Error(t, err)
			assert.False(t, isTimeout(err), "Read ended by Close, not by the test deadline: %v", err)
		}},
		{"CloseBeforeHandshake", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			c := newClient(t, b, baseClient(p))
			_, cliRaw := tcpPair(t)
			cc := c.Client(cliRaw, NameECDSA)
			assert.NoError(t, cc.Close(), "closing a conn that never handshook")
			_, err := cc.Write([]byte("x"))
			assert.Error(t, err)
		}},
		{"ServerAndClientCloseSafe", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			s, err := b.NewServer(baseServer(p))
			require.NoError(t, err)
			c, err := b.NewClient(baseClient(p))
			require.NoError(t, err)
			srvRaw, cliRaw := tcpPair(t)
			sc, cc := s.Server(srvRaw), c.Client(cliRaw, NameECDSA)
			defer sc.Close()
			defer cc.Close()
			srvErr, cliErr := runPair(sc, cc)
			require.NoError(t, srvErr)
			require.NoError(t, cliErr)
			assert.NotPanics(t, func() { _ = s.Close(); _ = s.Close() }, "Server.Close twice")
			assert.NotPanics(t, func() { _ = c.Close(); _ = c.Close() }, "Client.Close twice")
			// Conns made before Close keep working.
			_, err = cc.Write([]byte("still"))
			require.NoError(t, err)
			buf := make([]byte, 5)
			_, err = io.ReadFull(sc, buf)
			require.NoError(t, err)
			assert.Equal(t, "still", string(buf))
		}},
	}
}

func deadlineCases() []testCase {
	return []testCase{
		{"ReadTimeout", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			require.NoError(t, cc.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			n, err := cc.Read(make([]byte, 8))
			assert.Equal(t, 0, n)
			var ne net.Error
			require.ErrorAs(t, err, &ne, "a deadline gives a net.Error, got %v", err)
			assert.True(t, ne.Timeout(), "Timeout() is true")
			// The conn stays usable once the deadline is moved, as net/http
			// relies on when it aborts a background read.
			require.NoError(t, cc.SetReadDeadline(time.Now().Add(ioTimeout)))
			_, err = sc.Write([]byte("later"))
			require.NoError(t, err)
			buf := make([]byte, 5)
			_, err = io.ReadFull(cc, buf)
			require.NoError(t, err, "read after a timed-out read")
			assert.Equal(t, "later", string(buf))
		}},
		{"PastDeadlineUnblocksRead", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			errc := make(chan error, 1)
			go func() {
				_, err := sc.Read(make([]byte, 8))
				errc <- err
			}()
			// Set from another goroutine while the Read waits, as net/http
			// does with a deadline in the past.
			require.NoError(t, sc.SetReadDeadline(time.Unix(1, 0)))
			err := <-errc
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout())
			require.NoError(t, sc.SetReadDeadline(time.Now().Add(ioTimeout)))
			_, err = cc.Write([]byte("x"))
			require.NoError(t, err)
			buf := make([]byte, 1)
			_, err = io.ReadFull(sc, buf)
			require.NoError(t, err, "usable after the deadline moved")
			assert.Equal(t, "x", string(buf))
		}},
		{"WriteTimeout", func(t *testing.T, b tls.Backend) {
			_, cc := pairOf(t, b) // the server never reads
			require.NoError(t, cc.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
			chunk := make([]byte, 64<<10)
			var err error
			for written := 0; err == nil && written < 512<<20; written += len(chunk) {
				_, err = cc.Write(chunk)
			}
			var ne net.Error
			require.ErrorAs(t, err, &ne, "a blocked Write ends with a net.Error, got %v", err)
			assert.True(t, ne.Timeout())
		}},
		{"DeadlineBeforeHandshake", func(t *testing.T, b tls.Backend) {
			// A deadline set before the handshake bounds the implicit
			// handshake of the first Read.
			p := NewPKI(t)
			s := newServer(t, b, baseServer(p))
			srvRaw, _ := tcpPair(t) // the client never speaks
			sc := s.Server(srvRaw)
			defer sc.Close()
			require.NoError(t, sc.SetDeadline(time.Now().Add(50*time.Millisecond)))
			_, err := sc.Read(make([]byte, 1))
			require.Error(t, err)
			assert.True(t, isTimeout(err), "want a timeout, got %v", err)
		}},
	}
}

// stream writes n pseudo-random bytes from seed to w in chunks of size and
// returns their SHA-256.
func stream(w io.Writer, seed uint64, n, size int) ([]byte, error) {
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	h := sha256.New()
	buf := make([]byte, size)
	for n > 0 {
		chunk := buf[:min(size, n)]
		_, _ = rng.Read(chunk) // never fails
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			return nil, err
		}
		n -= len(chunk)
	}
	return h.Sum(nil), nil
}

// drain reads exactly n bytes from r and returns their SHA-256.
func drain(r io.Reader, n int) ([]byte, error) {
	h := sha256.New()
	got, err := io.CopyN(h, r, int64(n))
	if err != nil {
		return nil, err
	}
	if got != int64(n) {
		return nil, errors.New("tlstest: short read")
	}
	return h.Sum(nil), nil
}

// bothWays streams n bytes each way at once, with a reader and a writer
// goroutine on each conn, and checks both checksums.
func bothWays(t *testing.T, sc, cc net.Conn, n, size int) {
	t.Helper()
	// The per-step bound grows with the volume: 64 MiB each way under
	// -race on two busy cores can take longer than one handshake may.
	deadline := time.Now().Add(ioTimeout + time.Duration(n>>20)*time.Second)
	require.NoError(t, sc.SetDeadline(deadline))
	require.NoError(t, cc.SetDeadline(deadline))
	var wg sync.WaitGroup
	var sums [4][]byte
	var errs [4]error
	run := func(i int, f func() ([]byte, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = f()
			if errs[i] != nil {
				// Unblock the other goroutines instead of waiting for the
				// deadline.
				_ = sc.Close()
				_ = cc.Close()
			}
		}()
	}
	run(0, func() ([]byte, error) { return stream(cc, 1, n, size) })
	run(1, func() ([]byte, error) { return drain(sc, n) })
	run(2, func() ([]byte, error) { return stream(sc, 2, n, size) })
	run(3, func() ([]byte, error) { return drain(cc, n) })
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "goroutine %d", i)
	}
	assert.Equal(t, sums[0], sums[1], "client to server checksum")
	assert.Equal(t, sums[2], sums[3], "server to client checksum")
}

func streamCases() []testCase {
	return []testCase{
		{"64MiBBothWays", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			bothWays(t, sc, cc, 64<<20, 256<<10)
		}},
		{"ConcurrentReadWriteSmall", func(t *testing.T, b tls.Backend) {
			// Odd sizes cross record boundaries at changing offsets.
			sc, cc := pairOf(t, b)
			bothWays(t, sc, cc, 1<<20+17, 1021)
		}},
		{"ConcurrentReaders", func(t *testing.T, b tls.Backend) {
			// net.Conn allows Reads from several goroutines: together they
			// must see every byte once. Order between readers is not
			// defined, so counts per byte value are compared.
			sc, cc := pairOf(t, b)
			const n = 1 << 20
			go func() { _, _ = stream(sc, 11, n, 3001) }()
			want := byteCounts(t, 11, n)
			var mu sync.Mutex
			var got [256]int
			total := 0
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 1500)
					for {
						mu.Lock()
						done := total >= n
						mu.Unlock()
						if done {
							return
						}
						k, err := cc.Read(buf)
						mu.Lock()
						for _, c := range buf[:k] {
							got[c]++
						}
						total += k
						done = total >= n
						mu.Unlock()
						if err != nil || done {
							// Wake readers still blocked: all bytes are in.
							_ = cc.SetReadDeadline(time.Unix(1, 0))
							return
						}
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, n, total)
			assert.Equal(t, want, got, "every byte arrived exactly once")
		}},
		{"ConcurrentWriters", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			const writers, msgs, size = 4, 200, 1000
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := bytes.Repeat([]byte{byte('A' + w)}, size)
					for range msgs {
						if _, err := cc.Write(msg); err != nil {
							return
						}
					}
				}()
			}
			got, err := io.ReadAll(io.LimitReader(sc, writers*msgs*size))
			wg.Wait()
			require.NoError(t, err)
			require.Len(t, got, writers*msgs*size)
			for w := range writers {
				assert.Equal(t, msgs*size, bytes.Count(got, []byte{byte('A' + w)}), "writer %d", w)
			}
		}},
		{"ConcurrentMethods", func(t *testing.T, b tls.Backend) {
			// Deadlines, addresses and state are read and set while data
			// flows, as servers do; the race detector judges the rest.
			sc, cc := pairOf(t, b)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for _, c := range []tls.Conn{sc, cc} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						_ = c.SetDeadline(time.Now().Add(ioTimeout))
						_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
						_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
						_, _ = c.LocalAddr(), c.RemoteAddr()
						if cs := c.ConnectionState(); !cs.HandshakeComplete {
							t.Error("ConnectionState lost HandshakeComplete")
							return
						}
						time.Sleep(100 * time.Microsecond) // leave the CPUs to the transfer
					}
				}()
			}
			bothWays(t, sc, cc, 1<<20, 8191)
			close(stop)
			wg.Wait()
		}},
		{"ZeroLengthWrite", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			n, err := cc.Write(nil)
			assert.NoError(t, err)
			assert.Equal(t, 0, n)
			n, err = cc.Write([]byte{})
			assert.NoError(t, err)
			assert.Equal(t, 0, n)
			_, err = cc.Write([]byte("z"))
			require.NoError(t, err)
			buf := make([]byte, 1)
			_, err = io.ReadFull(sc, buf)
			require.NoError(t, err, "empty writes must not disturb the stream")
			assert.Equal(t, "z", string(buf))
		}},
		{"ManySmallWrites", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			var want bytes.Buffer
			errc := make(chan error, 1)
			const writes = 2000
			go func() {
				for i := range writes {
					msg := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%13)
					if _, err := cc.Write(msg); err != nil {
						errc <- err
						return
					}
				}
				errc <- cc.CloseWrite()
			}()
			for i := range writes {
				want.Write(bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%13))
			}
			got, err := io.ReadAll(sc)
			require.NoError(t, err)
			require.NoError(t, <-errc)
			assert.Equal(t, want.Len(), len(got))
			assert.True(t, bytes.Equal(want.Bytes(), got), "bytes arrive in order and intact")
		}},
		{"SmallReadBuffer", func(t *testing.T, b tls.Backend) {
			// A record larger than the reader's buffer is handed out over
			// several Reads.
			sc, cc := pairOf(t, b)
			msg := bytes.Repeat([]byte("0123456789abcdef"), 1024)
			go func() { _, _ = cc.Write(msg) }()
			got := make([]byte, 0, len(msg))
			buf := make([]byte, 7)
			for len(got) < len(msg) {
				n, err := sc.Read(buf)
				require.NoError(t, err)
				got = append(got, buf[:n]...)
			}
			assert.Equal(t, msg, got)
		}},
		{"ImplicitHandshake", func(t *testing.T, b tls.Backend) {
			// No HandshakeContext: the first Write and Read run it.
			p := NewPKI(t)
			s := newServer(t, b, baseServer(p))
			c := newClient(t, b, baseClient(p))
			srvRaw, cliRaw := tcpPair(t)
			sc, cc := s.Server(srvRaw), c.Client(cliRaw, NameECDSA)
			defer sc.Close()
			defer cc.Close()
			errc := make(chan error, 1)
			go func() {
				_, err := cc.Write([]byte("hello"))
				errc <- err
			}()
			buf := make([]byte, 5)
			_, err := io.ReadFull(sc, buf)
			require.NoError(t, err)
			require.NoError(t, <-errc)
			assert.Equal(t, "hello", string(buf))
			assert.True(t, sc.ConnectionState().HandshakeComplete)
			assert.True(t, cc.ConnectionState().HandshakeComplete)
			assert.NotEmpty(t, cc.ConnectionState().VerifiedChains, "an implicit handshake verifies too")
			assert.Equal(t, b.Name(), sc.Backend())
			assert.Equal(t, b.Name(), cc.Backend())
		}},
		{"OverNetPipe", func(t *testing.T, b tls.Backend) {
			// Any net.Conn carries TLS, including a synchronous, unbuffered
			// one: a backend must never wait for its own write to be read
			// before it reads.
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.ALPN = []string{"h2"}
			ccfg := baseClient(p)
			ccfg.ALPN = []string{"h2"}
			s := newServer(t, b, scfg)
			for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
				srvRaw, cliRaw := net.Pipe()
				deadline := time.Now().Add(ioTimeout)
				require.NoError(t, srvRaw.SetDeadline(deadline))
				require.NoError(t, cliRaw.SetDeadline(deadline))
				sc := s.Server(srvRaw)
				cc := newClientMax(t, b, ccfg, v).Client(cliRaw, NameECDSA)
				srvErr, cliErr := runPair(sc, cc)
				require.NoError(t, srvErr, "server over net.Pipe, %s", versionName(v))
				require.NoError(t, cliErr, "client over net.Pipe, %s", versionName(v))
				assert.Equal(t, v, cc.ConnectionState().Version)
				assert.Equal(t, "h2", sc.ConnectionState().NegotiatedProtocol)
				bothWays(t, sc, cc, 256<<10, 4000)
				// close_notify over a pipe is only written once read.
				closed := make(chan error, 1)
				go func() { closed <- cc.Close() }()
				rest, err := io.ReadAll(sc)
				assert.NoError(t, err, "close_notify over net.Pipe ends the stream cleanly")
				assert.Empty(t, rest)
				assert.NoError(t, <-closed)
				_ = sc.Close()
			}
		}},
		{"HandshakeContextTwice", func(t *testing.T, b tls.Backend) {
			sc, cc := pairOf(t, b)
			assert.NoError(t, cc.HandshakeContext(t.Context()), "a second handshake call is a no-op")
			assert.NoError(t, sc.HandshakeContext(t.Context()))
			assert.NotNil(t, cc.LocalAddr())
			assert.Equal(t, cc.LocalAddr().String(), sc.RemoteAddr().String(), "addresses are the transport's")
		}},
	}
}

// byteCounts counts each byte value in what stream(seed, n) produces.
func byteCounts(t *testing.T, seed uint64, n int) [256]int {
	t.Helper()
	var counts [256]int
	w := writerFunc(func(p []byte) (int, error) {
		for _, c := range p {
			counts[c]++
		}
		return len(p), nil
	})
	_, err := stream(w, seed, n, 3001)
	require.NoError(t, err)
	return counts
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// newClientMax is newClient with the version capped.
func newClientMax(t *testing.T, b tls.Backend, base *tls.ClientConfig, v uint16) tls.Client {
	t.Helper()
	cfg := *base
	cfg.MaxVersion = v
	return newClient(t, b, &cfg)
}
