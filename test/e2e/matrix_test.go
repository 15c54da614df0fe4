package e2e

import (
	"context"
	stdtls "crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// origin is a crypto/tls HTTPS server speaking HTTP/1.1 and HTTP/2 that
// says which protocol and path it saw, so a test can tell the upstream
// leg's protocol from the downstream one's.
func startOrigin(t *testing.T, ca *certs.DevCA) *httptest.Server {
	t.Helper()
	leaf, err := ca.IssueServer("localhost", "127.0.0.1")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "origin: %s %s %s\n", r.Proto, r.Method, r.URL.Path)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}},
		MinVersion:   stdtls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// startProxy serves text (a config file) in-process until the test ends and
// returns the listener's port.
func startProxy(t *testing.T, dir, text string) string {
	t.Helper()
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	c, err := config.Load(file)
	require.NoError(t, err)
	p, err := proxy.New(c.Options(nil, nil))
	require.NoError(t, err)
	require.NoError(t, p.Listen())
	served := make(chan error, 1)
	go func() { served <- p.Serve(nil) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, p.Shutdown(ctx))
		assert.ErrorIs(t, <-served, proxy.ErrServerClosed)
	})
	addr := p.Addrs()[0].String()
	return addr[strings.LastIndex(addr, ":")+1:]
}

// TestBackendMatrix sends requests with curl over HTTP/1.1 and HTTP/2 to a
// Gantry whose listener uses one backend and whose upstreams use another,
// for every pair compiled in. One upstream group offers h2 (so the origin
// leg is HTTP/2) and verifies the origin by SNI name; the other offers
// only http/1.1 and verifies the origin's IP address.
func TestBackendMatrix(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startOrigin(t, ca)
	originAddr := origin.Listener.Addr().String()

	for _, down := range gantrytls.Names() {
		for _, up := range gantrytls.Names() {
			t.Run(down+"->"+up, func(t *testing.T) {
				dir := t.TempDir()
				files, err := certs.WriteDevFiles(dir, nil, "", false)
				require.NoError(t, err)
				// The origin's CA differs from the listener's: each side
				// trusts exactly what it must.
				require.NoError(t, os.WriteFile(filepath.Join(dir, "origin-ca.pem"), ca.CertPEM(), 0o600))

				port := startProxy(t, dir, fmt.Sprintf(`
listeners:
  - address: 127.0.0.1:0
    tls:
      backend: %[1]s
      certificates: [{cert: server.pem, key: server-key.pem}]
routes:
  - path_prefix: /h1/
    upstream: h1
  - upstream: h2
upstreams:
  h2:
    addresses: [%[3]q]
    tls: {backend: %[2]s, ca: origin-ca.pem, server_name: localhost, alpn: [h2, http/1.1]}
  h1:
    addresses: [%[3]q]
    tls: {backend: %[2]s, ca: origin-ca.pem, alpn: [http/1.1]}
logging: {access_log: false}
`, down, up, originAddr))

				tests := []struct {
					curlProto, path   string
					wantDown, wantOrg string
				}{
					{"--http1.1", "/a", "1.1", "origin: HTTP/2.0 GET /a"},
					{"--http2", "/b", "2", "origin: HTTP/2.0 GET /b"},
					{"--http1.1", "/h1/c", "1.1", "origin: HTTP/1.1 GET /h1/c"},
					{"--http2", "/h1/d", "2", "origin: HTTP/1.1 GET /h1/d"},
				}
				for _, tt := range tests {
					out := curl(t, tt.curlProto, "--cacert", files.CA,
						"-w", "\nstatus=%{http_code} version=%{http_version}",
						"https://localhost:"+port+tt.path)
					assert.Contains(t, out, tt.wantOrg+"\n", "%s %s", tt.curlProto, tt.path)
					assert.True(t, strings.HasSuffix(out, "status=200 version="+tt.wantDown),
						"%s %s: got %q", tt.curlProto, tt.path, out)
				}
			})
		}
	}
}

// TestUpstreamVerificationRefuses checks the secure default end to end: an
// origin whose certificate the upstream CA did not issue gets a 502, and the
// request never reaches it.
func TestUpstreamVerificationRefuses(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startOrigin(t, ca)
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			// ca.pem is the listener's CA, not the origin's: verification must fail.
			port := startProxy(t, dir, fmt.Sprintf(`
listeners:
  - address: 127.0.0.1:0
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes: [{upstream: app}]
upstreams:
  app:
    addresses: [%q]
    health: {max_fails: -1}
    tls: {backend: %s, ca: ca.pem, server_name: localhost}
logging: {access_log: false}
`, origin.Listener.Addr().String(), backend))
			out := curl(t, "--cacert", files.CA, "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:"+port+"/")
			assert.Equal(t, "502", out)
		})
	}
}
