package e2e

import (
	"context"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// ocspResponder is an OCSP responder run by the test, signing with the CA
// that issued the certificates it answers for.
type ocspResponder struct {
	srv  *httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	down bool
}

func startOCSPResponder(t *testing.T, ca *certs.DevCA, status map[string]int) *ocspResponder {
	t.Helper()
	r := &ocspResponder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		r.mu.Lock()
		down := r.down
		r.mu.Unlock()
		body, err := io.ReadAll(req.Body)
		if down || err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		serial, err := certs.OCSPRequestSerial(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		st, ok := status[serial.Text(16)]
		if !ok {
			st = ocsp.Unknown
		}
		now := time.Now()
		der, err := ca.OCSPResponse(serial, st, now.Add(-time.Minute), now.Add(time.Hour))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(der)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *ocspResponder) setDown() {
	r.mu.Lock()
	r.down = true
	r.mu.Unlock()
}

// sClientStatus runs `openssl s_client -status` against addr and returns
// what it prints.
func sClientStatus(t *testing.T, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", addr, "-servername", "localhost", "-status")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "openssl s_client: %s", out)
	return string(out)
}

// stapleOf is the OCSP response a Go client sees from addr.
func stapleOf(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := stdtls.Dial("tcp", addr, &stdtls.Config{InsecureSkipVerify: true, ServerName: "localhost"}) // #nosec G402 -- only the staple is read; s_client and the server tests check the rest
	require.NoError(t, err)
	defer c.Close()
	return c.ConnectionState().OCSPResponse
}

// TestOCSPStaplingThroughBinary: a must-staple certificate whose response
// gantry fetches from the responder, served on every backend (openssl
// s_client -status sees it), cached, and stapled at once after a restart
// with the responder down; without cache and responder, the listener does
// not start.
func TestOCSPStaplingThroughBinary(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t)
			ca, err := certs.NewDevCA()
			require.NoError(t, err)
			status := map[string]int{}
			r := startOCSPResponder(t, ca, status)
			leaf, err := ca.IssueServerWith(certs.ServerOptions{Names: []string{"localhost"}, OCSPServer: r.srv.URL + "/", MustStaple: true})
			require.NoError(t, err)
			status[leaf.Cert.SerialNumber.Text(16)] = ocsp.Good
			keyPEM, err := leaf.KeyPEM()
			require.NoError(t, err)
			require.NoError(t, writeFile(filepath.Join(e.dir, "staple.pem"), append(leaf.CertPEM(), ca.CertPEM()...)))
			require.NoError(t, writeFile(filepath.Join(e.dir, "staple-key.pem"), keyPEM))
			require.NoError(t, os.Mkdir(filepath.Join(e.dir, "ocsp"), 0o700))

			text := strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
				fmt.Sprintf(`      backend: %s
      certificates:
        - cert: staple.pem
          key: staple-key.pem
          ocsp: {fetch: true}
      ocsp: {cache_dir: ocsp, fetch_timeout: 5s}
`, backend), 1)
			e.write(t, text)
			code, stdout, stderr := runGantry(t, "check", "-c", e.file)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)

			p := e.serve(t)
			out := sClientStatus(t, e.addr)
			assert.Contains(t, out, "OCSP Response Status: successful")
			assert.Contains(t, out, "Cert Status: good")
			assert.NotEmpty(t, stapleOf(t, e.addr))
			assert.Contains(t, p.out(), "ocsp: staple stapled")
			assert.EqualValues(t, 1, r.hits.Load())
			require.NoError(t, p.cmd.Process.Kill())
			p.wait(t)

			// Restart with the responder down: the cache staples at once.
			r.setDown()
			p = e.serve(t)
			assert.Contains(t, sClientStatus(t, e.addr), "OCSP Response Status: successful")
			assert.Contains(t, p.out(), "source=cache")
			require.NoError(t, p.cmd.Process.Kill())
			p.wait(t)

			// No cache and no responder: a must-staple certificate is not
			// served, the listener refuses to start.
			require.NoError(t, os.RemoveAll(filepath.Join(e.dir, "ocsp")))
			require.NoError(t, os.Mkdir(filepath.Join(e.dir, "ocsp"), 0o700))
			p = start(t, "serve", "-c", e.file)
			assert.Equal(t, 1, p.wait(t))
			assert.Contains(t, p.out(), `listener "main": certificates[0].ocsp.fetch: `)
			assert.Contains(t, p.out(), "must-staple")
		})
	}
}

// TestOCSPCheckRefusesMustStapleWithoutSource: gantry check names the
// file, line and key of a must-staple certificate with no OCSP source.
func TestOCSPCheckRefusesMustStapleWithoutSource(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	leaf, err := ca.IssueServerWith(certs.ServerOptions{Names: []string{"localhost"}, MustStaple: true})
	require.NoError(t, err)
	require.NoError(t, leaf.WriteFiles(filepath.Join(dir, "ms.pem"), filepath.Join(dir, "ms-key.pem")))
	file := filepath.Join(dir, "bad.yaml")
	require.NoError(t, writeFile(file, []byte(`listeners:
  - address: 127.0.0.1:0
    tls:
      certificates:
        - cert: ms.pem
          key: ms-key.pem
routes: [{upstream: app}]
upstreams:
  app: {addresses: [127.0.0.1:9]}
`)))
	code, _, stderr := runGantry(t, "check", "-c", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "bad.yaml:5: listeners[0].tls.certificates[0].ocsp: ")
	assert.Contains(t, stderr, "must-staple")
}

// originStapling is an HTTPS origin that staples staple (nil: nothing).
func originStapling(t *testing.T, leaf *certs.Issued, staple []byte) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "origin\n")
	}))
	srv.TLS = &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, OCSPStaple: staple}},
		MinVersion:   stdtls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestUpstreamOCSPThroughBinary: upstreams with ocsp: require, on every
// backend: a good staple passes, a revoked or missing one is a 502 with
// the reason in the log.
func TestUpstreamOCSPThroughBinary(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	leaf, err := ca.IssueServer("localhost")
	require.NoError(t, err)
	now := time.Now()
	response := func(status int) []byte {
		der, err := ca.OCSPResponse(leaf.Cert.SerialNumber, status, now.Add(-time.Minute), now.Add(time.Hour))
		require.NoError(t, err)
		return der
	}
	good := originStapling(t, leaf, response(ocsp.Good))
	revoked := originStapling(t, leaf, response(ocsp.Revoked))
	none := originStapling(t, leaf, nil)

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t)
			require.NoError(t, writeFile(filepath.Join(e.dir, "origin-ca.pem"), ca.CertPEM()))
			text := strings.Replace(e.config("a"), "routes: [{upstream: a}]\n", `routes:
  - {path_prefix: /good/, upstream: good}
  - {path_prefix: /revoked/, upstream: revoked}
  - {path_prefix: /none/, upstream: none}
  - {upstream: a}
`, 1)
			tlsBlock := fmt.Sprintf("{backend: %s, ca: origin-ca.pem, server_name: localhost, ocsp: require}", backend)
			text = strings.Replace(text, "upstreams:\n", fmt.Sprintf(`upstreams:
  good: {addresses: [%q], tls: %s}
  revoked: {addresses: [%q], health: {max_fails: -1}, tls: %s}
  none: {addresses: [%q], health: {max_fails: -1}, tls: %s}
`, good, tlsBlock, revoked, tlsBlock, none, tlsBlock), 1)
			e.write(t, text)
			p := e.serve(t)
			get := func(path string) string {
				return curl(t, "--cacert", filepath.Join(e.dir, "ca.pem"), "-o", "/dev/null", "-w", "%{http_code}",
					"--resolve", "localhost:"+e.addr[strings.LastIndex(e.addr, ":")+1:]+":127.0.0.1",
					"https://localhost:"+e.addr[strings.LastIndex(e.addr, ":")+1:]+path)
			}
			assert.Equal(t, "200", get("/good/x"))
			assert.Equal(t, "502", get("/revoked/x"))
			assert.Equal(t, "502", get("/none/x"))
			assert.Contains(t, p.out(), "OCSP response says certificate serial "+leaf.Cert.SerialNumber.Text(16)+" was revoked")
			assert.Contains(t, p.out(), "stapled no OCSP response")
		})
	}
}

// TestOCSPFileThroughBinary: a response kept in a file is stapled; after
// the file is replaced by an expired response and gantry reloads, nothing
// is stapled, and the log says why.
func TestOCSPFileThroughBinary(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t)
			ca, err := certs.NewDevCA()
			require.NoError(t, err)
			leaf, err := ca.IssueServer("localhost")
			require.NoError(t, err)
			keyPEM, err := leaf.KeyPEM()
			require.NoError(t, err)
			require.NoError(t, writeFile(filepath.Join(e.dir, "f.pem"), append(leaf.CertPEM(), ca.CertPEM()...)))
			require.NoError(t, writeFile(filepath.Join(e.dir, "f-key.pem"), keyPEM))
			now := time.Now()
			der, err := ca.OCSPResponse(leaf.Cert.SerialNumber, ocsp.Good, now.Add(-time.Minute), now.Add(time.Hour))
			require.NoError(t, err)
			staple := filepath.Join(e.dir, "f.ocsp")
			require.NoError(t, writeFile(staple, der))

			e.write(t, strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
				fmt.Sprintf("      backend: %s\n      certificates: [{cert: f.pem, key: f-key.pem, ocsp: {file: f.ocsp}}]\n", backend), 1))
			p := e.serve(t)
			out := sClientStatus(t, e.addr)
			assert.Contains(t, out, "OCSP Response Status: successful")
			assert.Equal(t, der, stapleOf(t, e.addr))

			expired, err := ca.OCSPResponse(leaf.Cert.SerialNumber, ocsp.Good, now.Add(-2*time.Hour), now.Add(-time.Hour))
			require.NoError(t, err)
			require.NoError(t, writeFile(staple, expired))
			code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, sClientStatus(t, e.addr), "OCSP response: no response sent")
			assert.Empty(t, stapleOf(t, e.addr))
			assert.Contains(t, p.out(), "expired at")
		})
	}
}
