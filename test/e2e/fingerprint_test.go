package e2e

import (
	stdtls "crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/clienthello"
)

// helloListener fingerprints the ClientHello of every connection it
// accepts and hands the connection on with the hello replayed, so the TLS
// server behind it handshakes as usual.
type helloListener struct {
	net.Listener
	mu   sync.Mutex
	ja4s []string
}

func (l *helloListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		h, raw, err := clienthello.Read(c, 0)
		_ = c.SetReadDeadline(time.Time{})
		if err != nil {
			_ = c.Close()
			continue
		}
		l.mu.Lock()
		l.ja4s = append(l.ja4s, h.JA4())
		l.mu.Unlock()
		return &replayedConn{Conn: c, pending: raw}, nil
	}
}

func (l *helloListener) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ja4s...)
}

type replayedConn struct {
	net.Conn
	pending []byte
}

func (c *replayedConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// fingerprintOrigin is an HTTPS origin (HTTP/1.1 and HTTP/2) that records
// the JA4 of every connection Gantry opens to it.
func fingerprintOrigin(t *testing.T, ca *certs.DevCA) (*httptest.Server, *helloListener) {
	t.Helper()
	leaf, err := ca.IssueServer("localhost", "127.0.0.1")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hl := &helloListener{Listener: ln}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin: %s\n", r.Proto)
	}))
	_ = srv.Listener.Close()
	srv.Listener = hl
	srv.EnableHTTP2 = true
	srv.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, hl
}

// utlsProfileJA4 is the JA4 of the hello uTLS itself builds for profile,
// with alpn in place of the browser's ALPN list.
func utlsProfileJA4(t *testing.T, profile utls.ClientHelloID, alpn []string) string {
	return helloJA4(t, func(addr string) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer raw.Close()
		uc := utls.UClient(raw, &utls.Config{ServerName: "localhost", NextProtos: alpn}, utls.HelloCustom)
		spec, err := utls.UTLSIdToSpec(profile)
		if err != nil {
			return
		}
		for _, e := range spec.Extensions {
			if a, ok := e.(*utls.ALPNExtension); ok {
				a.AlpnProtocols = alpn
			}
		}
		if uc.ApplyPreset(&spec) == nil {
			_ = uc.Handshake()
		}
	})
}

// TestUpstreamFingerprintThroughBinary: upstream groups with
// tls.fingerprint send their profile's ClientHello (the origin's JA4 is
// the one uTLS builds for it, not crypto/tls's), keep negotiating the
// upstream leg's protocol, and still verify the origin.
func TestUpstreamFingerprintThroughBinary(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "origin-ca.pem"), ca.CertPEM(), 0o600))

	type group struct {
		name, fingerprint, alpn, path, wantProto string
		profile                                  utls.ClientHelloID
	}
	groups := []group{
		{"chrome", "chrome", "[h2, http/1.1]", "/chrome", "HTTP/2.0", utls.HelloChrome_Auto},
		{"firefox1", "firefox", "[http/1.1]", "/firefox", "HTTP/1.1", utls.HelloFirefox_Auto},
		{"safari", "safari", "[h2, http/1.1]", "/safari", "HTTP/2.0", utls.HelloSafari_Auto},
		{"random", "randomized", "[h2, http/1.1]", "/random", "HTTP/2.0", utls.ClientHelloID{}},
		{"plain", "", "[h2, http/1.1]", "/plain", "HTTP/2.0", utls.ClientHelloID{}},
	}
	origins := map[string]*helloListener{}
	var routes, upstreams strings.Builder
	for _, g := range groups {
		srv, hl := fingerprintOrigin(t, ca)
		origins[g.name] = hl
		fmt.Fprintf(&routes, "  - {path_prefix: %s, upstream: %s}\n", g.path, g.name)
		fp := ""
		if g.fingerprint != "" {
			fp = ", fingerprint: " + g.fingerprint
		}
		fmt.Fprintf(&upstreams, "  %s:\n    addresses: [%q]\n    tls: {ca: origin-ca.pem, server_name: localhost, alpn: %s%s}\n", g.name, srv.Listener.Addr().String(), g.alpn, fp)
	}
	text := "listeners:\n  - address: 127.0.0.1:0\n    tls:\n      certificates: [{cert: server.pem, key: server-key.pem}]\nroutes:\n" +
		routes.String() + "upstreams:\n" + upstreams.String() + "logging: {access_log: false}\n"
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	code, _, stderr := runGantry(t, "check", "-c", file)
	require.Equal(t, 0, code, stderr)

	p := start(t, "serve", "-c", file)
	port := listenerPort(t, p)
	for _, g := range groups {
		out := curl(t, "--cacert", files.CA, "https://localhost:"+port+g.path)
		assert.Equal(t, "origin: "+g.wantProto+"\n", out, g.name)
	}
	plain := origins["plain"].seen()
	require.Len(t, plain, 1)
	for _, g := range groups {
		seen := origins[g.name].seen()
		require.Len(t, seen, 1, g.name)
		t.Logf("%s: origin saw JA4 %s", g.name, seen[0])
		if g.name == "plain" {
			continue
		}
		assert.NotEqual(t, plain[0], seen[0], "%s: a fingerprint is not crypto/tls's", g.name)
		if g.profile != (utls.ClientHelloID{}) {
			alpn := []string{"h2", "http/1.1"}
			if g.alpn == "[http/1.1]" {
				alpn = []string{"http/1.1"}
			}
			assert.Equal(t, utlsProfileJA4(t, g.profile, alpn), seen[0], g.name)
		}
	}

	// The origin is still verified: a CA that did not issue its
	// certificate gets a 502.
	wrongCA, err := certs.NewDevCA()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wrong-ca.pem"), wrongCA.CertPEM(), 0o600))
	bad := strings.Replace(text, "tls: {ca: origin-ca.pem, server_name: localhost, alpn: [h2, http/1.1], fingerprint: chrome}",
		"tls: {ca: wrong-ca.pem, server_name: localhost, alpn: [h2, http/1.1], fingerprint: chrome}", 1)
	require.NotEqual(t, text, bad)
	badFile := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badFile, []byte(bad), 0o600))
	p2 := start(t, "serve", "-c", badFile)
	port2 := listenerPort(t, p2)
	out := curl(t, "--cacert", files.CA, "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:"+port2+"/chrome")
	assert.Equal(t, "502", out)
}

// listenerPort is the port of the first listener gantry serve reports.
func listenerPort(t *testing.T, p *process) string {
	t.Helper()
	m := regexp.MustCompile(`on https://\S+:(\d+) `).FindStringSubmatch(p.waitLine(t, "listener "))
	require.NotNil(t, m)
	return m[1]
}

// TestUpstreamFingerprintRefusedOnCBackends: openssl and boringssl cannot
// send another client's hello, and gantry check says so at the key.
func TestUpstreamFingerprintRefusedOnCBackends(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	for _, backend := range append(gantrytls.Names(), "openssl") {
		if backend == gantrytls.DefaultBackend {
			continue
		}
		t.Run(backend, func(t *testing.T) {
			file := filepath.Join(dir, backend+".yaml")
			require.NoError(t, os.WriteFile(file, []byte(`listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: app}]
upstreams:
  app:
    addresses: ["127.0.0.1:9"]
    tls:
      backend: `+backend+`
      fingerprint: chrome
`), 0o600))
			code, _, stderr := runGantry(t, "check", "-c", file)
			assert.Equal(t, 1, code)
			if _, err := gantrytls.Lookup(backend); err != nil {
				assert.Contains(t, stderr, file+":10: upstreams.app.tls.backend:", "a backend not compiled in is refused as such")
				return
			}
			assert.Contains(t, stderr, file+":11: upstreams.app.tls.fingerprint: backend "+backend+": cannot send a chrome ClientHello")
		})
	}
}
