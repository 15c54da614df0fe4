package proxy

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// origin is a test upstream that counts the TCP connections and requests
// it receives.
type origin struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Origin-Proto", r.Proto)
	w.Header().Set("X-Got-Host", r.Host)
	w.Header().Set("X-Got-XFF", r.Header.Get("X-Forwarded-For"))
	w.Header().Set("X-Got-XFP", r.Header.Get("X-Forwarded-Proto"))
	w.Header().Set("X-Got-Forwarded", r.Header.Get("Forwarded"))
	w.Header().Set("X-Got-Via", r.Header.Get("Via"))
	w.Header().Set("X-Got-Connection", r.Header.Get("Connection"))
	w.Header().Set("X-Got-Secret", r.Header.Get("X-Secret"))
	_, _ = io.WriteString(w, "hello "+r.Method+" "+r.URL.RequestURI()+" "+string(body))
}

// newOrigin starts an origin; with tlsOn it serves TLS with the test PKI
// and offers h2 when h2 is set.
func newOrigin(t *testing.T, h http.Handler, tlsOn, h2 bool) *origin {
	t.Helper()
	o := &origin{}
	if h == nil {
		h = http.HandlerFunc(echoHandler)
	}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	o.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	o.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			o.conns.Add(1)
		}
	}
	if tlsOn {
		pki := tlstest.NewPKI(t)
		o.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{stdCert(pki.ServerECDSA)}}
		if h2 {
			o.EnableHTTP2 = true
		} else {
			o.TLS.NextProtos = []string{"http/1.1"}
		}
		o.StartTLS()
	} else {
		o.Start()
	}
	t.Cleanup(o.Close)
	return o
}

func stdCert(c gantrytls.Certificate) stdtls.Certificate {
	return stdtls.Certificate{Certificate: c.Chain, PrivateKey: c.Key, Leaf: c.Leaf}
}

func addrOf(o *origin) string { return o.Listener.Addr().String() }

// serverTLS is a listener TLS config with the test PKI's localhost leaf.
func serverTLS(t *testing.T, backend string) *ListenerTLS {
	pki := tlstest.NewPKI(t)
	return &ListenerTLS{Backend: backend, Config: gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{pki.ServerECDSA}}}
}

// upstreamTLS trusts the test PKI, offering alpn.
func upstreamTLS(t *testing.T, backend string, alpn ...string) *UpstreamTLS {
	pki := tlstest.NewPKI(t)
	return &UpstreamTLS{Backend: backend, ServerName: "localhost", Config: gantrytls.ClientConfig{RootCAs: pki.Roots(), ALPN: alpn}}
}

// simpleOptions proxies everything to one origin.
func simpleOptions(t *testing.T, o *origin, ltls *ListenerTLS, utls *UpstreamTLS) Options {
	return Options{
		Listeners: []ListenerOptions{{Name: "test", Addr: "127.0.0.1:0", TLS: ltls}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{addrOf(o)}, TLS: utls}},
		Routes:    []RouteOptions{{Upstream: "app"}},
	}
}

// startProxy runs a proxy for the test and returns its address.
func startProxy(t *testing.T, opts Options) (*Proxy, string) {
	t.Helper()
	p, err := New(opts)
	require.NoError(t, err)
	require.NoError(t, p.Listen())
	done := make(chan error, 1)
	go func() { done <- p.Serve(nil) }()
	t.Cleanup(func() {
		_ = p.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return p, p.Addrs()[0].String()
}

// client returns an HTTP client trusting the test PKI, speaking h2 or
// HTTP/1.1 only.
func client(t *testing.T, h2 bool) *http.Client {
	pki := tlstest.NewPKI(t)
	pool := x509.NewCertPool()
	for _, c := range pki.Roots() {
		pool.AddCert(c)
	}
	cfg := &stdtls.Config{RootCAs: pool, ServerName: "localhost"}
	var rt http.RoundTripper
	if h2 {
		var protos http.Protocols
		protos.SetHTTP2(true)
		rt = &http.Transport{TLSClientConfig: cfg, Protocols: &protos}
	} else {
		cfg.NextProtos = []string{"http/1.1"}
		rt = &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *stdtls.Conn) http.RoundTripper{}}
	}
	c := &http.Client{Transport: rt, Timeout: 20 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// rawTLS dials the proxy with TLS and ALPN http/1.1.
func rawTLS(t *testing.T, addr string, alpn ...string) *stdtls.Conn {
	t.Helper()
	pki := tlstest.NewPKI(t)
	pool := x509.NewCertPool()
	for _, c := range pki.Roots() {
		pool.AddCert(c)
	}
	if len(alpn) == 0 {
		alpn = []string{"http/1.1"}
	}
	d := &stdtls.Dialer{Config: &stdtls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: alpn}, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c.(*stdtls.Conn)
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// forEachBackend runs test once per TLS backend compiled into the test
// binary, with the proxy's listener on that backend: the hardening tests
// must hold whichever library terminates TLS.
func forEachBackend(t *testing.T, test func(t *testing.T, backend string)) {
	for _, name := range gantrytls.Names() {
		t.Run(name, func(t *testing.T) { test(t, name) })
	}
}
