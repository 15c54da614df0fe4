package tlstest

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// ioTimeout bounds every blocking step, so a broken backend fails a test
// instead of hanging it.
const ioTimeout = 20 * time.Second

// handshaker is what a backend's tls.Conn and a raw *crypto/tls.Conn have in
// common, so one exchange drives either as the peer of the other.
type handshaker interface {
	net.Conn
	HandshakeContext(context.Context) error
}

// tcpPair returns both ends of a fresh loopback TCP connection, with
// deadlines set and closed at the end of the test.
func tcpPair(t testing.TB) (srvRaw, cliRaw net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	cliRaw, err = net.DialTimeout("tcp", ln.Addr().String(), ioTimeout)
	require.NoError(t, err)
	a := <-ch
	require.NoError(t, a.err)
	srvRaw = a.c
	deadline := time.Now().Add(ioTimeout)
	for _, c := range []net.Conn{srvRaw, cliRaw} {
		require.NoError(t, c.SetDeadline(deadline))
		c := c
		t.Cleanup(func() { _ = c.Close() })
	}
	return srvRaw, cliRaw
}

// newServer builds a Server that the test closes when it ends.
func newServer(t testing.TB, b tls.Backend, cfg *tls.ServerConfig) tls.Server {
	t.Helper()
	s, err := b.NewServer(cfg)
	require.NoError(t, err, "%s: NewServer", b.Name())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newClient builds a Client that the test closes when it ends.
func newClient(t testing.TB, b tls.Backend, cfg *tls.ClientConfig) tls.Client {
	t.Helper()
	c, err := b.NewClient(cfg)
	require.NoError(t, err, "%s: NewClient", b.Name())
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serverSide handshakes, reads "ping" and answers "pong".
func serverSide(c handshaker) error {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return errors.New("tlstest: server read " + string(buf) + ", want ping")
	}
	_, err := c.Write([]byte("pong"))
	return err
}

// clientSide handshakes, writes "ping" and reads "pong". Reading also makes
// the client see a refusal the server sends after a TLS 1.3 handshake has
// completed on the client's side, and the session tickets sent then.
func clientSide(c handshaker) error {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "pong" {
		return errors.New("tlstest: client read " + string(buf) + ", want pong")
	}
	return nil
}

// runPair runs serverSide and clientSide at once. A side that fails closes
// its conn so the other side does not wait for bytes that never come.
func runPair(srv, cli handshaker) (srvErr, cliErr error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if srvErr = serverSide(srv); srvErr != nil {
			_ = srv.Close()
		}
	}()
	if cliErr = clientSide(cli); cliErr != nil {
		_ = cli.Close()
	}
	<-done
	return srvErr, cliErr
}

// Result is what one connection of the suite ended with, on both sides.
type Result struct {
	ServerErr, ClientErr error
	Server, Client       stdtls.ConnectionState
}

// Exchange connects a client of c to a server of s over loopback TCP with
// serverName, runs both handshakes and a ping/pong exchange, and returns
// what both sides saw. Both conns are closed when it returns.
func Exchange(t testing.TB, s tls.Server, c tls.Client, serverName string) Result {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	sc := s.Server(srvRaw)
	cc := c.Client(cliRaw, serverName)
	defer sc.Close()
	defer cc.Close()
	var r Result
	r.ServerErr, r.ClientErr = runPair(sc, cc)
	r.Server = sc.ConnectionState()
	r.Client = cc.ConnectionState()
	return r
}

// requireOK fails the test unless both sides succeeded.
func requireOK(t testing.TB, r Result) {
	t.Helper()
	require.NoError(t, r.ServerErr, "server side")
	require.NoError(t, r.ClientErr, "client side")
}

// requireRefused fails the test unless both sides failed: a refusal that
// only one side notices would leave the other waiting.
func requireRefused(t testing.TB, r Result) {
	t.Helper()
	require.Error(t, r.ServerErr, "server side should fail")
	require.Error(t, r.ClientErr, "client side should fail")
}

// rawVsServer runs a raw crypto/tls client against a server of the backend.
func rawVsServer(t testing.TB, s tls.Server, conf *stdtls.Config) (srvErr, cliErr error) {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	sc := s.Server(srvRaw)
	cc := stdtls.Client(cliRaw, conf)
	defer sc.Close()
	defer cc.Close()
	return runPair(sc, cc)
}

// rawVsClient runs a client of the backend against a raw crypto/tls server.
func rawVsClient(t testing.TB, conf *stdtls.Config, c tls.Client, serverName string) (srvErr, cliErr error) {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	sc := stdtls.Server(srvRaw, conf)
	cc := c.Client(cliRaw, serverName)
	defer sc.Close()
	defer cc.Close()
	return runPair(sc, cc)
}

// stdCert converts a suite certificate for a raw crypto/tls peer.
func stdCert(c tls.Certificate) stdtls.Certificate {
	return stdtls.Certificate{Certificate: c.Chain, PrivateKey: c.Key, Leaf: c.Leaf}
}

// openPair returns a handshaken server and client conn of the two backends
// with the suite's default configs, closed when the test ends.
func openPair(t testing.TB, srvB, cliB tls.Backend) (sc, cc tls.Conn) {
	t.Helper()
	p := NewPKI(t)
	s := newServer(t, srvB, &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}})
	c := newClient(t, cliB, &tls.ClientConfig{RootCAs: p.Roots()})
	srvRaw, cliRaw := tcpPair(t)
	sc = s.Server(srvRaw)
	cc = c.Client(cliRaw, NameECDSA)
	t.Cleanup(func() { _ = sc.Close(); _ = cc.Close() })
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		errc <- sc.HandshakeContext(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	cliErr := cc.HandshakeContext(ctx)
	if cliErr != nil {
		_ = cc.Close()
	}
	srvErr := <-errc
	require.NoError(t, srvErr, "server handshake")
	require.NoError(t, cliErr, "client handshake")
	// One byte each way: the client thereby reads what the server sent
	// after the handshake (TLS 1.3 session tickets). Unread bytes would
	// make a later Close send a TCP reset instead of a clean end, which
	// the peer may see before the data ahead of it.
	go func() {
		_, err := sc.Write([]byte{'s'})
		errc <- err
	}()
	buf := make([]byte, 1)
	_, err := io.ReadFull(cc, buf)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	go func() {
		_, err := io.ReadFull(sc, make([]byte, 1))
		errc <- err
	}()
	_, err = cc.Write([]byte{'c'})
	require.NoError(t, err)
	require.NoError(t, <-errc)
	return sc, cc
}

// isTimeout reports whether err says a deadline or timeout passed, in
// either of the two ways Go expresses that.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
