package proxy

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy/listen"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/clienthello"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// helloClient is a crypto/tls client config trusting the test PKI.
func helloClient(t *testing.T, serverName string, alpn ...string) *stdtls.Config {
	pki := tlstest.NewPKI(t)
	pool := x509.NewCertPool()
	for _, c := range pki.Roots() {
		pool.AddCert(c)
	}
	return &stdtls.Config{RootCAs: pool, ServerName: serverName, NextProtos: alpn}
}

// ja4Of is the JA4 of the hello cfg makes, read off a raw listener.
func ja4Of(t *testing.T, cfg *stdtls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		h, _, err := clienthello.Read(c, 0)
		if err != nil {
			got <- ""
			return
		}
		got <- h.JA4()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_ = stdtls.Client(conn, cfg.Clone()).Handshake()
	_ = conn.Close()
	ja4 := <-got
	require.NotEmpty(t, ja4)
	return ja4
}

// dialTLS handshakes with the proxy and returns the error.
func dialTLS(addr string, cfg *stdtls.Config) error {
	d := &stdtls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// TLS 1.3 clients finish before the server has judged them: a read
	// shows a refusal that closes after the handshake.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
		return err
	}
	var b [1]byte
	_, err = c.Read(b[:])
	return err
}

// helloCounts is a Metrics that counts ClientHello refusals.
type helloCounts struct {
	nopMetrics
	mu sync.Mutex
	n  map[string]int
}

func (m *helloCounts) ClientHelloRefused(listener, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[listener+"/"+reason]++
}

func (m *helloCounts) get(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[key]
}

// The hello Gantry reads is replayed to every backend: requests over
// HTTP/1.1 and HTTP/2 work, and the access log and the hooks get the JA4
// of the client's own hello.
func TestHelloReplayedAndFingerprinted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		o := newOrigin(t, nil, false, false)
		var buf lockedBuffer
		opts := simpleOptions(t, o, serverTLS(t, backend), nil)
		opts.AccessLog = AccessLogOptions{Writer: &buf}
		var mu sync.Mutex
		var hooked []string
		opts.Hooks.RequestFilter = func(s *Session) (bool, error) {
			mu.Lock()
			hooked = append(hooked, s.Downstream.JA4)
			mu.Unlock()
			return false, nil
		}
		_, addr := startProxy(t, opts)
		for _, h2 := range []bool{false, true} {
			resp, _ := get(t, client(t, h2), "https://"+addr+"/x")
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, h2, resp.ProtoMajor == 2)
		}
		// The clients above: net/http's offers h2 then http/1.1 (h2)
		// or http/1.1 alone.
		ja4h2 := ja4Of(t, helloClient(t, "localhost", "h2", "http/1.1"))
		ja4h1 := ja4Of(t, helloClient(t, "localhost", "http/1.1"))
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		require.Len(t, lines, 2)
		var got []string
		for _, line := range lines {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &rec))
			got = append(got, rec["ja4"].(string))
		}
		// A line is written once its response is sent, which may be after
		// the client already has it and sent the next request: any order.
		assert.ElementsMatch(t, []string{ja4h1, ja4h2}, got)
		mu.Lock()
		assert.Equal(t, []string{ja4h1, ja4h2}, hooked)
		mu.Unlock()
	})
}

func TestSNIAllowList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		o := newOrigin(t, nil, false, false)
		ltls := serverTLS(t, backend)
		ltls.SNI = SNIOptions{Allow: []string{"localhost", "*.apps.example"}, Missing: listen.SNIMissingRefuse}
		opts := simpleOptions(t, o, ltls, nil)
		m := &helloCounts{}
		opts.Metrics = m
		_, addr := startProxy(t, opts)

		require.NoError(t, dialTLS(addr, helloClient(t, "LOCALHOST", "http/1.1")))
		insecure := func(name string) *stdtls.Config {
			c := helloClient(t, name, "http/1.1")
			c.InsecureSkipVerify = true // #nosec G402 -- the name is refused before any certificate
			return c
		}
		require.NoError(t, dialTLS(addr, insecure("a.b.apps.example")))
		for _, name := range []string{"other.example", "apps.example", "127.0.0.1"} {
			err := dialTLS(addr, insecure(name))
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), "unrecognized name", name)
		}
		assert.Equal(t, 2, m.get("test/"+listen.ReasonSNINotAllowed))
		assert.Equal(t, 1, m.get("test/"+listen.ReasonSNIMissing))
	})
}

func TestJA4Filter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		o := newOrigin(t, nil, false, false)
		denied := helloClient(t, "localhost", "http/1.1")
		opts := simpleOptions(t, o, serverTLS(t, backend), nil)
		opts.Filter.JA4.Deny = []string{ja4Of(t, denied)}
		m := &helloCounts{}
		opts.Metrics = m
		_, addr := startProxy(t, opts)
		err := dialTLS(addr, denied)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "unrecognized name", "a JA4 refusal closes without an alert")
		require.NoError(t, dialTLS(addr, helloClient(t, "localhost")), "another fingerprint (no ALPN) gets through")
		assert.Equal(t, 1, m.get("test/"+listen.ReasonJA4Denied))
	})
}

func TestHelloRefusedWhenOverFragmented(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	m := &helloCounts{}
	opts.Metrics = m
	_, addr := startProxy(t, opts)
	// A real hello, cut into 100-byte records.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			_ = stdtls.Client(c, helloClient(t, "localhost")).Handshake()
			c.Close()
		}
	}()
	c, err := ln.Accept()
	require.NoError(t, err)
	_, raw, err := clienthello.Read(c, 0)
	c.Close()
	require.NoError(t, err)
	msg := raw[5:]
	var split []byte
	for len(msg) > 0 {
		n := min(100, len(msg))
		split = append(split, 22, 3, 1, 0, byte(n))
		split = append(split, msg[:n]...)
		msg = msg[n:]
	}
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, _ = conn.Write(split)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err = conn.Read(b[:])
	require.Error(t, err, "closed without an answer")
	// Counted before the connection was closed.
	assert.Equal(t, 1, m.get("test/"+listen.ReasonHelloRecords))
}

func TestInspectHelloOff(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	off := false
	ltls := serverTLS(t, "")
	ltls.InspectHello = &off
	var buf lockedBuffer
	opts := simpleOptions(t, o, ltls, nil)
	opts.AccessLog = AccessLogOptions{Writer: &buf}
	_, addr := startProxy(t, opts)
	resp, _ := get(t, client(t, false), "https://"+addr+"/")
	require.Equal(t, 200, resp.StatusCode)
	assert.NotContains(t, buf.String(), `"ja4"`)

	ltls.SNI = SNIOptions{Allow: []string{"localhost"}}
	_, err := New(simpleOptions(t, o, ltls, nil))
	require.ErrorContains(t, err, "inspect_hello is false")
}

// BenchmarkHandshakeInspect is a full TLS handshake through the proxy's
// accept path with the ClientHello inspected (the default) or not, on
// each backend: what tls.inspect_hello costs per handshake. The baseline
// runs first, so that warming up does not count against inspection.
func BenchmarkHandshakeInspect(b *testing.B) {
	for _, name := range gantrytls.Names() {
		for _, inspect := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/inspect=%v", name, inspect), func(b *testing.B) {
				pki := tlstest.NewPKI(b)
				ltls := &ListenerTLS{Backend: name, Config: gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{pki.ServerECDSA}}}
				ltls.InspectHello = &inspect
				p, err := New(Options{
					Listeners: []ListenerOptions{{Name: "bench", Addr: "127.0.0.1:0", TLS: ltls}},
					Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{"127.0.0.1:9"}}},
					Routes:    []RouteOptions{{Upstream: "app"}},
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Listen(); err != nil {
					b.Fatal(err)
				}
				go func() { _ = p.Serve(nil) }()
				defer p.Close()
				addr := p.Addrs()[0].String()
				pool := x509.NewCertPool()
				for _, c := range pki.Roots() {
					pool.AddCert(c)
				}
				cfg := &stdtls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
				b.ReportAllocs()
				for b.Loop() {
					c, err := stdtls.Dial("tcp", addr, cfg)
					if err != nil {
						b.Fatal(err)
					}
					_ = c.Close()
				}
			})
		}
	}
}
