package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
	// The OpenSSL and BoringSSL backends join under their build tags (see
	// backends_*_test.go); gostd is always here.
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

const ioTimeout = 20 * time.Second

// watchedBackend records every Server and Client it compiles and how often
// each is closed, to check when Reload closes what it swapped out.
type watchedBackend struct {
	gantrytls.Backend
	mu      sync.Mutex
	servers []*watchedServer
	clients []*watchedClient
}

type watchedServer struct {
	inner  gantrytls.Server
	closed atomic.Int32
}

func (s *watchedServer) Server(raw net.Conn) gantrytls.Conn {
	if s.closed.Load() > 0 {
		panic("a conn was made from a closed server")
	}
	return s.inner.Server(raw)
}

func (s *watchedServer) Close() error { s.closed.Add(1); return s.inner.Close() }

type watchedClient struct {
	inner  gantrytls.Client
	closed atomic.Int32
}

func (c *watchedClient) Client(raw net.Conn, name string) gantrytls.Conn {
	if c.closed.Load() > 0 {
		panic("a conn was made from a closed client")
	}
	return c.inner.Client(raw, name)
}

func (c *watchedClient) Close() error { c.closed.Add(1); return c.inner.Close() }

func (b *watchedBackend) NewServer(cfg *gantrytls.ServerConfig) (gantrytls.Server, error) {
	s, err := b.Backend.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	w := &watchedServer{inner: s}
	b.mu.Lock()
	b.servers = append(b.servers, w)
	b.mu.Unlock()
	return w, nil
}

func (b *watchedBackend) NewClient(cfg *gantrytls.ClientConfig) (gantrytls.Client, error) {
	c, err := b.Backend.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	w := &watchedClient{inner: c}
	b.mu.Lock()
	b.clients = append(b.clients, w)
	b.mu.Unlock()
	return w, nil
}

// serverCloses lists how often each compiled server was closed, oldest first.
func (b *watchedBackend) serverCloses() []int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]int32, len(b.servers))
	for i, s := range b.servers {
		out[i] = s.closed.Load()
	}
	return out
}

func (b *watchedBackend) clientCloses() []int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]int32, len(b.clients))
	for i, c := range b.clients {
		out[i] = c.closed.Load()
	}
	return out
}

// session is one handshaken TLS connection, both ends.
type session struct {
	server, client gantrytls.Conn
}

// tcpPair is a loopback TCP connection (a pipe would deadlock on the
// tickets a TLS 1.3 server writes after its handshake).
func tcpPair(t *testing.T) (srvRaw, cliRaw net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cliRaw, err = net.DialTimeout("tcp", ln.Addr().String(), ioTimeout)
	require.NoError(t, err)
	srvRaw = <-accepted
	require.NotNil(t, srvRaw)
	for _, c := range []net.Conn{srvRaw, cliRaw} {
		require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
		t.Cleanup(func() { _ = c.Close() })
	}
	return srvRaw, cliRaw
}

// connect handshakes a fresh connection between srv and cl; the error is
// the client's, else the server's.
func connect(t *testing.T, srv gantrytls.Server, cl gantrytls.Client) (session, error) {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	s := session{server: srv.Server(srvRaw), client: cl.Client(cliRaw, "localhost")}
	return s, s.handshake(t)
}

// handshake runs both sides' handshakes; the error is the client's, else
// the server's.
func (s session) handshake(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	// A side that fails closes its conn, so that the other side fails too
	// rather than wait for its timeout.
	serr := make(chan error, 1)
	go func() {
		err := s.server.HandshakeContext(ctx)
		if err != nil {
			_ = s.server.Close()
		}
		serr <- err
	}()
	err := s.client.HandshakeContext(ctx)
	if err != nil {
		_ = s.client.Close()
	}
	if serverErr := <-serr; err == nil {
		err = serverErr
	}
	t.Cleanup(func() { _ = s.client.Close(); _ = s.server.Close() })
	return err
}

// echo checks that bytes flow both ways on s.
func echo(t *testing.T, s session, msg string) {
	t.Helper()
	for _, dir := range []struct{ from, to gantrytls.Conn }{{s.client, s.server}, {s.server, s.client}} {
		werr := make(chan error, 1)
		go func() {
			_, err := io.WriteString(dir.from, msg)
			werr <- err
		}()
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(dir.to, buf)
		require.NoError(t, err)
		require.NoError(t, <-werr)
		assert.Equal(t, msg, string(buf))
	}
}

func peerLeaf(t *testing.T, c gantrytls.Conn) *x509.Certificate {
	t.Helper()
	certs := c.ConnectionState().PeerCertificates
	require.NotEmpty(t, certs)
	return certs[0]
}

func forEachBackend(t *testing.T, test func(t *testing.T, b gantrytls.Backend)) {
	for _, b := range gantrytls.Backends() {
		t.Run(b.Name(), func(t *testing.T) { test(t, b) })
	}
}

func TestServerReload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		first, kp := f.server("server")
		wb := &watchedBackend{Backend: b}
		srv, err := NewServer(wb, gantrytls.ServerConfig{ALPN: []string{"h2"}}, ServerFiles{Certificates: []KeyPair{kp}})
		require.NoError(t, err)
		cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.ca.Certificate()}, ALPN: []string{"h2"}, DisableSessionCache: true})
		require.NoError(t, err)
		defer cl.Close()

		before, err := connect(t, srv, cl)
		require.NoError(t, err)
		assert.True(t, peerLeaf(t, before.client).Equal(first.Cert))
		assert.Equal(t, "h2", before.client.ConnectionState().NegotiatedProtocol, "the base config applies")
		assert.Equal(t, b.Name(), before.server.Backend())

		// A conn made before the Reload but not yet handshaken.
		srvRaw, cliRaw := tcpPair(t)
		pending := session{server: srv.Server(srvRaw), client: cl.Client(cliRaw, "localhost")}

		second, _ := f.server("server")
		require.NoError(t, srv.Reload())
		assert.Equal(t, []int32{1, 0}, wb.serverCloses(), "the swapped-out server is closed once, at once")

		require.NoError(t, pending.handshake(t), "a conn made before the swap handshakes after it")
		assert.True(t, peerLeaf(t, pending.client).Equal(first.Cert), "with the certificate it was made with")
		echo(t, pending, "made before, handshaken after")

		after, err := connect(t, srv, cl)
		require.NoError(t, err)
		assert.True(t, peerLeaf(t, after.client).Equal(second.Cert), "a handshake after Reload sees the new certificate")
		echo(t, before, "conn from the closed server")
		echo(t, after, "conn from the new server")

		// Failed reloads change nothing: the second certificate keeps
		// serving and no server is compiled or closed.
		keyPEM, err := os.ReadFile(kp.Key)
		require.NoError(t, err)
		require.NoError(t, os.Remove(kp.Key))
		err = srv.Reload()
		assertReloadField(t, err, "certificates[0].key", "file "+kp.Key+" does not exist")

		_, otherKey := f.server("other")
		otherPEM, err := os.ReadFile(otherKey.Key)
		require.NoError(t, err)
		f.write("server-key.pem", otherPEM)
		err = srv.Reload()
		assertReloadField(t, err, "certificates[0]", "private key does not match")
		assert.Equal(t, []int32{1, 0}, wb.serverCloses())

		still, err := connect(t, srv, cl)
		require.NoError(t, err)
		assert.True(t, peerLeaf(t, still.client).Equal(second.Cert), "the old certificate keeps serving")
		echo(t, still, "still serving")

		f.write("server-key.pem", keyPEM)
		require.NoError(t, srv.Reload(), "fixed files load again")

		require.NoError(t, srv.Close())
		assert.Equal(t, []int32{1, 1, 1}, wb.serverCloses())
		require.NoError(t, srv.Close(), "Close twice is harmless")
		assert.Equal(t, []int32{1, 1, 1}, wb.serverCloses())
		echo(t, after, "conns outlive Close")

		srvRaw, _ = tcpPair(t)
		closed := srv.Server(srvRaw)
		assert.ErrorIs(t, closed.HandshakeContext(context.Background()), net.ErrClosed, "a closed Server makes no conns")
		assert.Equal(t, b.Name(), closed.Backend())
		_, err = srvRaw.Write([]byte{0})
		assert.ErrorIs(t, err, net.ErrClosed, "and closes what it was given")
		assert.ErrorIs(t, srv.Reload(), net.ErrClosed)
	})
}

func assertReloadField(t *testing.T, err error, field, text string) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorContains(t, err, "previous")
	var fe *gantrytls.FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	assert.Equal(t, field, fe.Field)
	assert.Contains(t, fe.Err.Error(), text)
}

func TestServerReloadUnderLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		a, kp := f.server("server")
		bIssued, _ := f.server("b")
		cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.ca.Certificate()}, DisableSessionCache: true})
		require.NoError(t, err)
		defer cl.Close()
		wb := &watchedBackend{Backend: b}
		srv, err := NewServer(wb, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}})
		require.NoError(t, err)

		const workers, conns, reloads = 3, 8, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers*conns)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range conns {
					s, err := connect(t, srv, cl)
					if err != nil {
						errs <- fmt.Errorf("worker %d conn %d: %w", w, i, err)
						continue
					}
					leaf := s.client.ConnectionState().PeerCertificates[0]
					if !leaf.Equal(a.Cert) && !leaf.Equal(bIssued.Cert) {
						errs <- fmt.Errorf("worker %d conn %d: unexpected certificate", w, i)
					}
				}
			}()
		}
		for i := range reloads {
			is := a
			if i%2 == 0 {
				is = bIssued
			}
			require.NoError(t, is.WriteFiles(kp.Cert, kp.Key))
			require.NoError(t, srv.Reload())
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		require.NoError(t, srv.Close())
		closes := wb.serverCloses()
		require.Len(t, closes, reloads+1)
		for i, n := range closes {
			assert.Equal(t, int32(1), n, "compiled server %d is closed exactly once", i)
		}
	})
}

func TestClientReload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		_, serverPair := f.server("server")
		_, clientPair := f.client("client", "alice")
		srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{
			Certificates: []KeyPair{serverPair},
			ClientAuth:   ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem")},
		})
		require.NoError(t, err)
		defer srv.Close()

		// The client trusts its own copy of the CA, to replace it later.
		caFile := f.write("client-ca.pem", f.ca.CertPEM())
		wb := &watchedBackend{Backend: b}
		cl, err := NewClient(wb, gantrytls.ClientConfig{DisableSessionCache: true}, ClientFiles{CA: caFile, Cert: clientPair.Cert, Key: clientPair.Key})
		require.NoError(t, err)

		before, err := connect(t, srv, cl)
		require.NoError(t, err)
		assert.Equal(t, "alice", peerLeaf(t, before.server).Subject.CommonName)

		f.client("client", "bob")
		require.NoError(t, cl.Reload())
		assert.Equal(t, []int32{1, 0}, wb.clientCloses())
		after, err := connect(t, srv, cl)
		require.NoError(t, err)
		assert.Equal(t, "bob", peerLeaf(t, after.server).Subject.CommonName, "the new client certificate is presented")
		echo(t, before, "conn from the closed client")

		require.NoError(t, os.WriteFile(clientPair.Key, []byte("garbage"), 0o600))
		err = cl.Reload()
		assertReloadField(t, err, "cert", "no PRIVATE KEY block")
		still, err := connect(t, srv, cl)
		require.NoError(t, err)
		assert.Equal(t, "bob", peerLeaf(t, still.server).Subject.CommonName)

		// A new CA file is trusted from the next handshake on.
		f.client("client", "bob")
		otherCA, err := NewDevCA()
		require.NoError(t, err)
		f.write("client-ca.pem", otherCA.CertPEM())
		require.NoError(t, cl.Reload())
		_, err = connect(t, srv, cl)
		assert.Error(t, err, "the server's certificate no longer chains to the client's CA")
		echo(t, after, "earlier conns are unaffected")

		require.NoError(t, cl.Close())
		assert.Equal(t, []int32{1, 1, 1}, wb.clientCloses())
		_, err = connect(t, srv, cl)
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}

func TestNewServerAndClientErrors(t *testing.T) {
	f := newFixture(t)
	_, kp := f.server("server")
	b, err := gantrytls.Lookup(gantrytls.DefaultBackend)
	require.NoError(t, err)

	_, err = NewServer(b, gantrytls.ServerConfig{}, ServerFiles{})
	var fe *gantrytls.FieldError
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "certificates", fe.Field)

	// What the backend refuses is placed relative to the ServerConfig.
	_, err = NewServer(b, gantrytls.ServerConfig{Groups: []string{"X448"}}, ServerFiles{Certificates: []KeyPair{kp}})
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "groups[0]", fe.Field)

	_, err = NewClient(b, gantrytls.ClientConfig{}, ClientFiles{Cert: kp.Cert})
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "key", fe.Field)
	_, err = NewClient(b, gantrytls.ClientConfig{ALPN: []string{""}}, ClientFiles{})
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "alpn[0]", fe.Field)
}

func TestBaseConfigIsCopied(t *testing.T) {
	f := newFixture(t)
	_, kp := f.server("server")
	b, err := gantrytls.Lookup(gantrytls.DefaultBackend)
	require.NoError(t, err)
	alpn := []string{"h2"}
	files := ServerFiles{Certificates: []KeyPair{kp}}
	srv, err := NewServer(b, gantrytls.ServerConfig{ALPN: alpn}, files)
	require.NoError(t, err)
	defer srv.Close()
	alpn[0] = ""
	files.Certificates[0].Key = f.path("elsewhere")
	require.NoError(t, srv.Reload(), "the caller's slices are not the Server's")
}
