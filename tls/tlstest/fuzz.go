package tlstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// The handshake fuzzers play one side of a handshake from a fixed script: the
// fuzz input is every byte the peer sends, and whatever the backend writes
// back is dropped. Seeds are real flights recorded from crypto/tls handshakes
// when the fuzzer starts (TLS 1.3, TLS 1.2, a HelloRetryRequest, client
// certificates), so mutation begins from valid records rather than noise.
//
// A scripted peer can never finish a handshake: it would need the backend's
// ephemeral key to compute Finished. So besides "no crash, no hang, no leak
// under -asan", every input must end in an error; a success would mean the
// backend accepted a handshake it could not have verified.
//
// Go's coverage guidance sees only Go code: for the cgo backends it steers by
// the Go side of the shim, and the mutations inside OpenSSL or BoringSSL are
// blind. ASan is what makes those runs worth having.

// fuzzHandshakeBound only stops a backend that would otherwise hang; the
// script ends in io.EOF, so a correct backend returns long before it.
const fuzzHandshakeBound = 10 * time.Second

// FuzzServerHandshake fuzzes backend's server side with mutated client
// flights: call it from a FuzzXxx function of the backend's package.
func FuzzServerHandshake(f *testing.F, backend tls.Backend) {
	cert := fuzzCertificate(f)
	srv, err := backend.NewServer(&tls.ServerConfig{
		Certificates: []tls.Certificate{cert},
		ALPN:         []string{"h2", "http/1.1"},
		// Asking for a client certificate makes the server parse one, which
		// in TLS 1.2 travels in the clear: more surface for the fuzzer.
		ClientAuth:       tls.ClientAuthVerifyIfGiven,
		ClientCAs:        []*x509.Certificate{cert.Leaf},
		HandshakeTimeout: fuzzHandshakeBound,
	})
	require.NoError(f, err, "build %s server", backend.Name())
	f.Cleanup(func() { _ = srv.Close() })

	for _, fl := range recordFlights(f, cert) {
		f.Add(fl.client)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		peer := newScriptedConn(in)
		c := srv.Server(peer)
		err := fuzzHandshake(c)
		assert.Error(t, err, "%s server completed a handshake with a scripted client", backend.Name())
		assert.NoError(t, ignoreClosed(c.Close()))
	})
}

// FuzzClientHandshake fuzzes backend's client side with mutated server
// flights.
func FuzzClientHandshake(f *testing.F, backend tls.Backend) {
	cert := fuzzCertificate(f)
	cli, err := backend.NewClient(&tls.ClientConfig{
		// Verification would stop most inputs at the first certificate;
		// without it the fuzzer reaches key exchange and CertificateRequest.
		DisableVerifyCert: true,
		Certificate:       &cert,
		ALPN:              []string{"h2", "http/1.1"},
		HandshakeTimeout:  fuzzHandshakeBound,
	})
	require.NoError(f, err, "build %s client", backend.Name())
	f.Cleanup(func() { _ = cli.Close() })

	for _, fl := range recordFlights(f, cert) {
		f.Add(fl.server)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		peer := newScriptedConn(in)
		c := cli.Client(peer, "fuzz.test")
		err := fuzzHandshake(c)
		assert.Error(t, err, "%s client completed a handshake with a scripted server", backend.Name())
		assert.NoError(t, ignoreClosed(c.Close()))
	})
}

func fuzzHandshake(c tls.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), fuzzHandshakeBound)
	defer cancel()
	return c.HandshakeContext(ctx)
}

// ignoreClosed accepts the errors a Close may report after a failed
// handshake has already torn the connection down.
func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return err
}

// flight is what each side of one recorded handshake wrote.
type flight struct {
	client, server []byte
}

// recordFlights runs crypto/tls handshakes in the shapes the backends must
// parse and returns what each side wrote. It records over loopback TCP, not
// net.Pipe: a TLS 1.3 server writes its tickets before it reads the client's
// Finished, and an unbuffered pipe would stall both sides until the deadline.
func recordFlights(tb testing.TB, cert tls.Certificate) []flight {
	tb.Helper()
	stdCert := stdtls.Certificate{Certificate: cert.Chain, PrivateKey: cert.Key, Leaf: cert.Leaf}
	cases := []struct {
		name       string
		version    uint16
		clientAuth stdtls.ClientAuthType
		// serverCurves forces a HelloRetryRequest when it lacks the
		// client's first key share.
		serverCurves []stdtls.CurveID
	}{
		{"tls13", stdtls.VersionTLS13, stdtls.NoClientCert, nil},
		{"tls13-client-auth", stdtls.VersionTLS13, stdtls.RequestClientCert, nil},
		{"tls13-hello-retry", stdtls.VersionTLS13, stdtls.NoClientCert, []stdtls.CurveID{stdtls.CurveP384}},
		{"tls12", stdtls.VersionTLS12, stdtls.NoClientCert, nil},
		{"tls12-client-auth", stdtls.VersionTLS12, stdtls.RequestClientCert, nil},
	}
	var out []flight
	for _, tc := range cases {
		srvRaw, cliRaw := fuzzLoopbackPair(tb)
		cliRec := &recordingConn{Conn: cliRaw}
		srvRec := &recordingConn{Conn: srvRaw}
		deadline := time.Now().Add(fuzzHandshakeBound)
		require.NoError(tb, srvRaw.SetDeadline(deadline))
		require.NoError(tb, cliRaw.SetDeadline(deadline))
		// #nosec G402 -- a recording peer for fuzz seeds; nothing is trusted.
		cc := stdtls.Client(cliRec, &stdtls.Config{
			InsecureSkipVerify: true,
			ServerName:         "fuzz.test",
			NextProtos:         []string{"h2", "http/1.1"},
			MaxVersion:         tc.version,
			Certificates:       []stdtls.Certificate{stdCert},
		})
		sc := stdtls.Server(srvRec, &stdtls.Config{
			Certificates:     []stdtls.Certificate{stdCert},
			NextProtos:       []string{"h2", "http/1.1"},
			MaxVersion:       tc.version,
			ClientAuth:       tc.clientAuth,
			CurvePreferences: tc.serverCurves,
		})
		var wg sync.WaitGroup
		var srvErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvErr = sc.Handshake()
		}()
		cliErr := cc.Handshake()
		wg.Wait()
		// Closing the raw conns, not the TLS ones, keeps close_notify out
		// of the recordings.
		_ = srvRaw.Close()
		_ = cliRaw.Close()
		require.NoError(tb, cliErr, "record %s: client", tc.name)
		require.NoError(tb, srvErr, "record %s: server", tc.name)
		out = append(out, flight{client: cliRec.bytes(), server: srvRec.bytes()})
	}
	return out
}

// fuzzLoopbackPair returns both ends of a fresh 127.0.0.1 TCP connection.
func fuzzLoopbackPair(tb testing.TB) (srvRaw, cliRaw net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	cliRaw, err = net.DialTimeout("tcp", ln.Addr().String(), fuzzHandshakeBound)
	require.NoError(tb, err)
	srvRaw = <-accepted
	if srvRaw == nil {
		_ = cliRaw.Close()
		require.FailNow(tb, "accept on the loopback listener failed")
	}
	return srvRaw, cliRaw
}

// recordingConn keeps a copy of everything written through it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (r *recordingConn) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	r.mu.Lock()
	r.buf = append(r.buf, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.buf...)
}

// scriptedConn is a peer that sends a fixed script and then io.EOF, and
// swallows what it is sent. It never blocks, so a handshake over it cannot
// wait on the network.
//
// It does one thing a live peer would: when the script opens with a
// ServerHello, the legacy session ID that the backend's ClientHello carried
// is copied into it. TLS 1.3 clients refuse a ServerHello that does not echo
// their random session ID, and no fuzzer can guess 32 random bytes, so
// without this the client fuzzer would never get past that check.
type scriptedConn struct {
	mu        sync.Mutex
	script    []byte
	sessionID []byte // from the first ClientHello written, if any
	patched   bool
	closed    bool
}

func newScriptedConn(script []byte) *scriptedConn { return &scriptedConn{script: script} }

func (s *scriptedConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	if !s.patched && s.sessionID != nil {
		s.patched = true
		s.script = echoSessionID(s.script, s.sessionID)
	}
	if len(s.script) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.script)
	s.script = s.script[n:]
	return n, nil
}

func (s *scriptedConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	if s.sessionID == nil {
		if id, ok := helloSessionID(p, 1); ok {
			s.sessionID = id
		}
	}
	return len(p), nil
}

// helloSessionID returns the legacy session ID of a hello message of the
// given handshake type (1 ClientHello, 2 ServerHello) that opens the TLS
// record at the start of b.
func helloSessionID(b []byte, msgType byte) ([]byte, bool) {
	// record header (5), handshake header (4), legacy_version (2), random (32)
	const idOffset = 5 + 4 + 2 + 32
	if len(b) <= idOffset || b[0] != 22 || b[5] != msgType {
		return nil, false
	}
	n := int(b[idOffset])
	if n > 32 || len(b) < idOffset+1+n {
		return nil, false
	}
	return append([]byte{}, b[idOffset+1:idOffset+1+n]...), true
}

// echoSessionID returns script with the session ID of every record that
// opens with a ServerHello (the second one follows a HelloRetryRequest)
// replaced by id, where the lengths agree; other bytes are left alone.
func echoSessionID(script, id []byte) []byte {
	out := append([]byte{}, script...)
	for rec := out; len(rec) >= 5; {
		if old, ok := helloSessionID(rec, 2); ok && len(old) == len(id) {
			copy(rec[5+4+2+32+1:], id)
		}
		next := 5 + (int(rec[3])<<8 | int(rec[4]))
		if next > len(rec) {
			break
		}
		rec = rec[next:]
	}
	return out
}

func (s *scriptedConn) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *scriptedConn) LocalAddr() net.Addr  { return fuzzAddr{} }
func (s *scriptedConn) RemoteAddr() net.Addr { return fuzzAddr{} }

// Deadlines do not matter to a peer that never blocks.
func (s *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (s *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

type fuzzAddr struct{}

func (fuzzAddr) Network() string { return "fuzz" }
func (fuzzAddr) String() string  { return "fuzz" }

// fuzzCertificate mints a self-signed ECDSA P-256 certificate for
// "fuzz.test", in memory only.
func fuzzCertificate(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(tb, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fuzz.test"},
		DNSNames:              []string{"fuzz.test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(tb, err)
	cert, err := tls.NewCertificate([][]byte{der}, key)
	require.NoError(tb, err)
	return cert
}
