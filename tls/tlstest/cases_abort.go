package tlstest

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// silentPeer reads whatever the other side sends until the connection
// ends, and reports how it ended: nil for a clean close, an error for a
// reset, and a timeout error if nobody closed it.
func silentPeer(raw net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, raw)
		done <- err
	}()
	return done
}

// guarded runs f and fails the test if f has not returned after a bound far
// beyond what it is told to take; f's conn is closed then, so the test ends.
func guarded(t *testing.T, c io.Closer, f func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(ioTimeout):
		_ = c.Close()
		t.Errorf("still blocked after %v: the bound was not applied", ioTimeout)
		return <-errc
	}
}

func abortCases() []testCase {
	cancelCase := func(server bool) func(t *testing.T, b tls.Backend) {
		return func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			srvRaw, cliRaw := tcpPair(t)
			var conn tls.Conn
			var peer <-chan error
			if server {
				scfg := baseServer(p)
				scfg.HandshakeTimeout = time.Minute // the cancel, not the timeout, must end it
				conn = newServer(t, b, scfg).Server(srvRaw)
				peer = silentPeer(cliRaw)
			} else {
				ccfg := baseClient(p)
				ccfg.HandshakeTimeout = time.Minute
				conn = newClient(t, b, ccfg).Client(cliRaw, NameECDSA)
				peer = silentPeer(srvRaw)
			}
			defer conn.Close()
			ctx, cancel := context.WithCancel(context.Background())
			stop := time.AfterFunc(50*time.Millisecond, cancel)
			defer stop.Stop()
			err := conn.HandshakeContext(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled, "the context's error is reported")
			peerErr := <-peer
			assert.False(t, isTimeout(peerErr), "the conn is closed on cancel, so the peer sees it end: %v", peerErr)
			_, err = conn.Write([]byte("x"))
			assert.Error(t, err, "a cancelled conn is unusable")
		}
	}
	timeoutCase := func(server, implicit bool) func(t *testing.T, b tls.Backend) {
		return func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			srvRaw, cliRaw := tcpPair(t)
			// Only the configured timeout may end the handshake.
			require.NoError(t, srvRaw.SetDeadline(time.Time{}))
			require.NoError(t, cliRaw.SetDeadline(time.Time{}))
			var conn tls.Conn
			var peer <-chan error
			if server {
				scfg := baseServer(p)
				scfg.HandshakeTimeout = 100 * time.Millisecond
				conn = newServer(t, b, scfg).Server(srvRaw)
				peer = silentPeer(cliRaw)
			} else {
				ccfg := baseClient(p)
				ccfg.HandshakeTimeout = 100 * time.Millisecond
				conn = newClient(t, b, ccfg).Client(cliRaw, NameECDSA)
				peer = silentPeer(srvRaw)
			}
			defer conn.Close()
			err := guarded(t, conn, func() error {
				if implicit {
					_, err := conn.Read(make([]byte, 1))
					return err
				}
				return conn.HandshakeContext(context.Background())
			})
			require.Error(t, err)
			assert.True(t, isTimeout(err), "want a timeout error, got %v", err)
			// Bound the rest again, whatever the backend did to the conn.
			_ = srvRaw.SetDeadline(time.Now().Add(ioTimeout))
			_ = cliRaw.SetDeadline(time.Now().Add(ioTimeout))
			_ = conn.Close()
			<-peer
		}
	}
	return []testCase{
		{"ClientContextCancel", cancelCase(false)},
		{"ServerContextCancel", cancelCase(true)},
		{"ClientHandshakeTimeout", timeoutCase(false, false)},
		{"ServerHandshakeTimeout", timeoutCase(true, false)},
		{"ServerImplicitHandshakeTimeout", timeoutCase(true, true)},
		{"ClientImplicitHandshakeTimeout", timeoutCase(false, true)},
		{"ContextAlreadyDone", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			_, cliRaw := tcpPair(t)
			conn := newClient(t, b, baseClient(p)).Client(cliRaw, NameECDSA)
			defer conn.Close()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := conn.HandshakeContext(ctx)
			assert.ErrorIs(t, err, context.Canceled)
		}},
	}
}

// garbageToServer sends payload instead of a ClientHello, half-closes, and
// checks the server refuses it and then serves a good client.
func garbageToServer(payload []byte) func(t *testing.T, b tls.Backend) {
	return func(t *testing.T, b tls.Backend) {
		p := NewPKI(t)
		s := newServer(t, b, baseServer(p))
		srvRaw, cliRaw := tcpPair(t)
		sc := s.Server(srvRaw)
		defer sc.Close()
		go func() {
			_, _ = cliRaw.Write(payload)
			_ = cliRaw.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, cliRaw) // an alert, then the end
		}()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		err := sc.HandshakeContext(ctx)
		require.Error(t, err, "the server accepted garbage")
		assert.False(t, isTimeout(err), "garbage is refused, not waited on: %v", err)
		_ = sc.Close()
		requireOK(t, Exchange(t, s, newClient(t, b, baseClient(p)), NameECDSA))
	}
}

// garbageToClient answers the client's ClientHello with payload and checks
// the client refuses it.
func garbageToClient(payload []byte, closeAfter bool) func(t *testing.T, b tls.Backend) {
	return func(t *testing.T, b tls.Backend) {
		p := NewPKI(t)
		srvRaw, cliRaw := tcpPair(t)
		cc := newClient(t, b, baseClient(p)).Client(cliRaw, NameECDSA)
		defer cc.Close()
		go func() {
			// Wait for the ClientHello's first bytes so the answer is an
			// answer, then reply.
			hdr := make([]byte, 5)
			if _, err := io.ReadFull(srvRaw, hdr); err != nil {
				return
			}
			_, _ = srvRaw.Write(payload)
			if closeAfter {
				_ = srvRaw.Close()
				return
			}
			_, _ = io.Copy(io.Discard, srvRaw)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		err := cc.HandshakeContext(ctx)
		require.Error(t, err, "the client accepted garbage")
		assert.False(t, isTimeout(err), "garbage is refused, not waited on: %v", err)
	}
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(rng.Uint32())
	}
	out[0] = 0xff // never a valid record type, whatever the seed
	return out
}

func garbageCases() []testCase {
	return []testCase{
		{"ServerRandomBytes", garbageToServer(randomBytes(1, 1024))},
		{"ServerHTTPRequest", garbageToServer([]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))},
		{"ServerOversizedRecord", garbageToServer(append([]byte{0x16, 0x03, 0x01, 0xff, 0xff}, randomBytes(2, 64)...))},
		{"ServerMalformedClientHello", garbageToServer([]byte{0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef})},
		{"ServerTruncatedClientHello", garbageToServer([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03, 0x01, 0x02})},
		{"ServerEmptyConnection", garbageToServer(nil)},
		{"ClientRandomBytes", garbageToClient(randomBytes(3, 1024), false)},
		{"ClientHTTPResponse", garbageToClient([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), false)},
		{"ClientTruncatedServerHello", garbageToClient([]byte{0x16, 0x03, 0x03, 0x00, 0x50, 0x02, 0x00, 0x00, 0x4c, 0x03, 0x03}, true)},
		{"ClientPeerClosesAfterHello", garbageToClient(nil, true)},
		{"ClientAlertInsteadOfHello", garbageToClient([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}, false)},
		{"ClientTruncatedFirstFlight", func(t *testing.T, b tls.Backend) {
			// A real crypto/tls server that dies halfway through its first flight.
			p := NewPKI(t)
			srvRaw, cliRaw := tcpPair(t)
			cut := &cutConn{Conn: srvRaw}
			sc := stdtls.Server(cut, &stdtls.Config{Certificates: []stdtls.Certificate{stdCert(p.ServerECDSA)}})
			go func() { _ = sc.Handshake() }()
			cc := newClient(t, b, baseClient(p)).Client(cliRaw, NameECDSA)
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			err := cc.HandshakeContext(ctx)
			require.Error(t, err)
			assert.False(t, isTimeout(err), "a closed peer is noticed, not waited on: %v", err)
		}},
	}
}

// cutConn sends only the first half of the first write, then closes: the
// peer gets a truncated first flight.
type cutConn struct {
	net.Conn
}

func (c *cutConn) Write(b []byte) (int, error) {
	_, _ = c.Conn.Write(b[:len(b)/2])
	_ = c.Conn.Close()
	return 0, errors.New("tlstest: cut")
}
