//go:build (openssl && !boringssl) || (boringssl && !openssl)

package sslconn

import (
	"bufio"
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/cgo/ssl"
	gtls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// The tests in this file run the Server, Client and Conn of this package
// on the real engine, cgo/ssl with the library the build tag chose.

var cgoCaps = Probe(CgoLibrary)

func newCgoServer(cfg *gtls.ServerConfig) (*Server, error) {
	return NewServer(CgoLibrary, cgoCaps(), cfg)
}

func newCgoClient(cfg *gtls.ClientConfig) (*Client, error) {
	return NewClient(CgoLibrary, cgoCaps(), cfg)
}

func newPair(t testing.TB, scfg *gtls.ServerConfig, ccfg *gtls.ClientConfig) (*Server, *Client) {
	t.Helper()
	s, err := newCgoServer(scfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	c, err := newCgoClient(ccfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return s, c
}

func baseConfigs(t testing.TB) (*gtls.ServerConfig, *gtls.ClientConfig) {
	p := tlstest.NewPKI(t)
	return &gtls.ServerConfig{Certificates: []gtls.Certificate{p.ServerECDSA}},
		&gtls.ClientConfig{RootCAs: p.Roots()}
}

// echoServer answers one 4-byte message, then reads until the client's
// close_notify so that the client's Close never waits on a full pipe.
func echoServer(sc gtls.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		defer sc.Close()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(sc, buf); err != nil {
			done <- fmt.Errorf("server read: %w", err)
			return
		}
		if _, err := sc.Write(buf); err != nil {
			done <- fmt.Errorf("server write: %w", err)
			return
		}
		_, err := io.Copy(io.Discard, sc)
		done <- err
	}()
	return done
}

// ping runs one connection over net.Pipe: handshake, echo, close.
func ping(s *Server, c *Client, name string) error {
	_, err := pingConn(s, c, name)
	return err
}

// pingConn is ping returning the closed client connection, whose
// ConnectionState stays readable.
func pingConn(s *Server, c *Client, name string) (gtls.Conn, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(20 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	done := echoServer(s.Server(a))
	cc := c.Client(b, name)
	buf := []byte("ping")
	if _, err := cc.Write(buf); err != nil {
		cc.Close()
		return nil, fmt.Errorf("client write: %w", err)
	}
	if _, err := io.ReadFull(cc, buf); err != nil {
		cc.Close()
		return nil, fmt.Errorf("client read: %w", err)
	}
	if err := cc.Close(); err != nil {
		return nil, err
	}
	return cc, <-done
}

func TestConnOutlivesServerAndClient(t *testing.T) {
	scfg, ccfg := baseConfigs(t)
	s, c := newPair(t, scfg, ccfg)
	a, b := net.Pipe()
	defer a.Close()
	sc, cc := s.Server(a), c.Client(b, tlstest.NameECDSA)
	// The contexts stay alive while these conns hold their references.
	require.NoError(t, s.Close())
	require.NoError(t, c.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	done := echoServer(sc)
	_, err := cc.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(cc, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	require.NoError(t, cc.Close())
	require.NoError(t, <-done)

	// A conn asked of a closed Server fails cleanly.
	x, y := net.Pipe()
	defer y.Close()
	late := s.Server(x)
	err = late.HandshakeContext(context.Background())
	assert.ErrorIs(t, err, errClosedEndpoint)
	assert.NoError(t, late.Close())
}

func TestCloseWhileReadBlocked(t *testing.T) {
	scfg, ccfg := baseConfigs(t)
	s, c := newPair(t, scfg, ccfg)
	a, b := net.Pipe()
	sc, cc := s.Server(a), c.Client(b, tlstest.NameECDSA)
	defer sc.Close()
	// The server only reads, so the client's close_notify never waits.
	go func() { _, _ = io.Copy(io.Discard, sc) }()
	require.NoError(t, cc.HandshakeContext(context.Background()))

	readErr := make(chan error, 1)
	go func() {
		_, err := cc.Read(make([]byte, 16))
		readErr <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the Read block on the pipe
	require.NoError(t, cc.Close())
	select {
	case err := <-readErr:
		assert.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	_, err := cc.Write([]byte("x"))
	assert.Error(t, err, "Write after Close")
	_, err = cc.Read(make([]byte, 1))
	assert.Error(t, err, "Read after Close")
}

func TestSessionCacheIsBounded(t *testing.T) {
	scfg, ccfg := baseConfigs(t)
	ccfg.SessionCacheSize = 2
	ccfg.DisableVerifyHostname = true // one certificate answers every name
	s, c := newPair(t, scfg, ccfg)
	for i := range 5 {
		require.NoError(t, ping(s, c, fmt.Sprintf("host%d.gantry.test", i)))
	}
	assert.Equal(t, 2, c.cache.len(), "cache holds CacheSize sessions")
	require.NoError(t, c.Close())
	assert.Equal(t, 0, c.cache.len(), "Close frees every session")
}

func TestEveryConnectionResumes(t *testing.T) {
	for v, name := range map[uint16]string{gtls.VersionTLS13: "TLS13", gtls.VersionTLS12: "TLS12"} {
		t.Run(name, func(t *testing.T) {
			scfg, ccfg := baseConfigs(t)
			ccfg.MaxVersion = v
			s, c := newPair(t, scfg, ccfg)
			for i := range 5 {
				cc, err := pingConn(s, c, tlstest.NameECDSA)
				require.NoError(t, err)
				// A resumed connection must leave a fresh session behind,
				// or only every other connection would resume.
				assert.Equal(t, i > 0, cc.ConnectionState().DidResume, "connection %d", i)
			}
		})
	}
}

func TestResumedConnKeepsVerifiedChain(t *testing.T) {
	scfg, ccfg := baseConfigs(t)
	s, c := newPair(t, scfg, ccfg)
	var states []gtls.Conn
	for range 2 {
		cc, err := pingConn(s, c, tlstest.NameECDSA)
		require.NoError(t, err)
		states = append(states, cc)
	}
	first, second := states[0].ConnectionState(), states[1].ConnectionState()
	require.False(t, first.DidResume)
	require.True(t, second.DidResume)
	assert.NotEmpty(t, second.PeerCertificates)
	assert.NotEmpty(t, second.VerifiedChains)
	assert.Equal(t, first.PeerCertificates[0].Raw, second.PeerCertificates[0].Raw)
}

func TestLibraryErrorsAreReadable(t *testing.T) {
	scfg, ccfg := baseConfigs(t)
	s, _ := newPair(t, scfg, ccfg)
	a, b := net.Pipe()
	defer b.Close()
	sc := s.Server(a)
	go func() {
		_, _ = b.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		_, _ = io.Copy(io.Discard, b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := sc.HandshakeContext(ctx)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), ssl.Flavor+": handshake: "), err.Error())
	// The library's reason string, not just a code.
	assert.Regexp(t, `(?i)wrong.version|http|record|packet`, err.Error())
	assert.NoError(t, sc.Close())
}

func vmRSS(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	require.NoError(t, sc.Err())
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// settled returns RSS and live C heap bytes after the Go heap is
// collected, so that finalisers and cleanups have run.
func settled(t testing.TB) (rss, cheap int64) {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	return vmRSS(t), ssl.CHeapInUse()
}

// bulk sends n bytes one way over a fresh connection.
func bulk(t testing.TB, s *Server, c *Client, n int) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	sc, cc := s.Server(a), c.Client(b, tlstest.NameECDSA)
	var wg sync.WaitGroup
	var got int64
	var rerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer sc.Close()
		got, rerr = io.Copy(io.Discard, sc)
	}()
	chunk := make([]byte, 256<<10)
	for sent := 0; sent < n; sent += len(chunk) {
		_, err := cc.Write(chunk[:min(len(chunk), n-sent)])
		require.NoError(t, err)
	}
	require.NoError(t, cc.CloseWrite())
	wg.Wait()
	require.NoError(t, rerr)
	require.Equal(t, int64(n), got)
	require.NoError(t, cc.Close())
}

// TestLeak runs many handshakes and a bulk transfer and checks that RSS
// stays flat after warm-up: C objects are invisible to the Go heap, so RSS
// is what shows an SSL, SSL_CTX or SSL_SESSION that is never freed.
// GANTRY_LEAK_FULL=1 runs the heavy size and prints the figures.
func TestLeak(t *testing.T) {
	handshakes, total := 2000, 64<<20
	full := os.Getenv("GANTRY_LEAK_FULL") == "1"
	if full {
		handshakes, total = 20000, 1<<30
	}
	scfg, ccfg := baseConfigs(t)
	scfg.ALPN = []string{"h2", "http/1.1"}
	ccfg.ALPN = []string{"h2"}
	s, resuming := newPair(t, scfg, ccfg)
	fullCfg := *ccfg
	fullCfg.DisableSessionCache = true
	fresh, err := newCgoClient(&fullCfg)
	require.NoError(t, err)
	defer fresh.Close()

	run := func(n int) {
		for i := range n {
			c := resuming
			if i%2 == 1 {
				c = fresh // every other handshake is a full one
			}
			require.NoError(t, ping(s, c, tlstest.NameECDSA), "handshake %d", i)
		}
	}
	run(200)
	bulk(t, s, resuming, 4<<20)
	before, cBefore := settled(t)
	run(handshakes)
	bulk(t, s, resuming, total)
	// Servers and clients come and go too.
	for range 50 {
		s2, err := newCgoServer(scfg)
		require.NoError(t, err)
		c2, err := newCgoClient(ccfg)
		require.NoError(t, err)
		require.NoError(t, ping(s2, c2, tlstest.NameECDSA))
		require.NoError(t, s2.Close())
		require.NoError(t, c2.Close())
	}
	after, cAfter := settled(t)
	growth, cGrowth := after-before, cAfter-cBefore
	msg := fmt.Sprintf("%s: RSS after warm-up %.1f MiB, after %d handshakes and %d MiB: %.1f MiB (growth %.1f MiB); C heap in use %.2f -> %.2f MiB",
		ssl.Flavor, mib(before), handshakes, total>>20, mib(after), mib(growth), mib(cBefore), mib(cAfter))
	t.Log(msg)
	if full {
		fmt.Println(msg)
	}
	// A leaked SSL with its BIOs costs several KiB, a session about one:
	// thousands of them would be far above these bounds.
	rssBound := int64(24 << 20)
	if raceEnabled {
		rssBound = 128 << 20
	}
	if asanEnabled {
		rssBound = 512 << 20 // quarantine plus shadow; the bound still catches runaway growth
	}
	assert.Less(t, growth, rssBound, "RSS grew: something is leaking")
	if cBefore > 0 { // AddressSanitizer replaces malloc and reports zero
		assert.Less(t, cGrowth, int64(2<<20), "C heap grew: SSL objects are leaking")
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func TestHandshakeTimeoutIsNetError(t *testing.T) {
	scfg, _ := baseConfigs(t)
	scfg.HandshakeTimeout = 200 * time.Millisecond
	s, err := newCgoServer(scfg)
	require.NoError(t, err)
	defer s.Close()
	a, b := net.Pipe()
	defer b.Close()
	sc := s.Server(a)
	err = sc.HandshakeContext(context.Background()) // the peer never speaks
	require.Error(t, err)
	var ne net.Error
	require.True(t, errors.As(err, &ne), "%v", err)
	assert.True(t, ne.Timeout())
}

func TestStapledOCSPReachesConnectionState(t *testing.T) {
	p := tlstest.NewPKI(t)
	_, ccfg := baseConfigs(t)
	c, err := newCgoClient(ccfg)
	require.NoError(t, err)
	defer c.Close()
	staple := []byte("not really OCSP, but opaque to TLS")
	sct := []byte("an SCT, equally opaque")
	srvConf := &stdtls.Config{Certificates: []stdtls.Certificate{{
		Certificate: p.ServerECDSA.Chain, PrivateKey: p.ServerECDSA.Key,
		OCSPStaple: staple, SignedCertificateTimestamps: [][]byte{sct},
	}}}
	a, b := net.Pipe()
	defer a.Close()
	srv := stdtls.Server(a, srvConf)
	go func() { _, _ = io.Copy(io.Discard, srv) }()
	cc := c.Client(b, tlstest.NameECDSA)
	defer cc.Close()
	require.NoError(t, cc.HandshakeContext(context.Background()))
	st := cc.ConnectionState()
	assert.Equal(t, staple, st.OCSPResponse)
	if ssl.Flavor == "boringssl" {
		assert.Equal(t, [][]byte{sct}, st.SignedCertificateTimestamps)
	}
}

// TestRefusalAlertMatchesVerifyError checks what the peer hears: the alert
// a refusing client sends is the one the Go verifier chose.
func TestRefusalAlertMatchesVerifyError(t *testing.T) {
	p := tlstest.NewPKI(t)
	_, ccfg := baseConfigs(t)
	c, err := newCgoClient(ccfg)
	require.NoError(t, err)
	defer c.Close()
	for _, tc := range []struct {
		name       string
		cert       gtls.Certificate
		serverName string
		alert      gtls.Alert
		heard      string
	}{
		{"UnknownCA", p.ServerUntrusted, tlstest.NameUntrusted, gtls.AlertUnknownCA, "unknown certificate authority"},
		{"Expired", p.ServerExpired, tlstest.NameExpired, gtls.AlertCertificateExpired, "expired certificate"},
		{"WrongName", p.ServerECDSA, tlstest.NameWrong, gtls.AlertBadCertificate, "bad certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			srv := stdtls.Server(a, &stdtls.Config{
				Certificates: []stdtls.Certificate{{Certificate: tc.cert.Chain, PrivateKey: tc.cert.Key}},
				MaxVersion:   stdtls.VersionTLS12, // the server reads the alert inside its handshake
			})
			srvErr := make(chan error, 1)
			go func() { srvErr <- srv.Handshake() }()
			cc := c.Client(b, tc.serverName)
			err := cc.HandshakeContext(context.Background())
			var ve *gtls.VerifyError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.alert, ve.Alert)
			require.NoError(t, cc.Close())
			assert.ErrorContains(t, <-srvErr, tc.heard)
		})
	}
}
