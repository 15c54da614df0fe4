package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// The options below are each turned on from YAML and used by the binary;
// the tests of their features elsewhere leave them at their defaults.

// curlAs runs curl with a client certificate against the opsEnv listener
// and reports whether it got the origin's answer.
func curlAs(t *testing.T, e *opsEnv, cert, key string) bool {
	t.Helper()
	url := "https://localhost" + e.addr[strings.LastIndex(e.addr, ":"):] + "/"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "30", "--cacert", filepath.Join(e.dir, "ca.pem"),
		"--cert", cert, "--key", key, url).Output() // #nosec G204 -- test client
	return err == nil && string(out) == "A"
}

// TestWatchFilesOff: with server.watch_files.enabled false a CRL changed
// on disk is not picked up by itself; a reload applies it.
func TestWatchFilesOff(t *testing.T) {
	e := newOpsEnv(t)
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	alice, err := ca.IssueClient("alice")
	require.NoError(t, err)
	cert, key := filepath.Join(e.dir, "alice.pem"), filepath.Join(e.dir, "alice-key.pem")
	require.NoError(t, alice.WriteFiles(cert, key))
	require.NoError(t, writeFile(filepath.Join(e.dir, "client-ca.pem"), ca.CertPEM()))
	crl := func(revoked ...*big.Int) []byte {
		b, err := ca.CRL(revoked, time.Now().Add(time.Hour))
		require.NoError(t, err)
		return b
	}
	require.NoError(t, writeFile(filepath.Join(e.dir, "clients.crl"), crl()))
	text := strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
		"      certificates: [{cert: server.pem, key: server-key.pem}]\n"+
			"      client_auth: {mode: require-and-verify, ca: client-ca.pem, crls: [clients.crl]}\n", 1)
	e.write(t, strings.Replace(text, "server:\n", "server:\n  watch_files: {enabled: false, interval: 100ms}\n", 1))
	e.serve(t)
	require.True(t, curlAs(t, e, cert, key))

	replace(t, filepath.Join(e.dir, "clients.crl"), crl(alice.Cert.SerialNumber))
	time.Sleep(time.Second) // ten intervals: a watcher that was on would have acted
	assert.True(t, curlAs(t, e, cert, key), "not watched: the old list still serves")
	_, m := e.scrape("/metrics")
	assert.Contains(t, m, `gantry_certificate_reloads_total{result="ok"} 0`)

	code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	assert.False(t, curlAs(t, e, cert, key), "a reload reads the new list")
}

// TestCRLFetchBounds: crl_fetch.max_bytes refuses a list larger than it
// (so, with crl_expired hard, the client), and timeout and max_urls are
// read and checked.
func TestCRLFetchBounds(t *testing.T) {
	e := newOpsEnv(t)
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	point := newCRLPoint(t, ca)
	alice, err := ca.IssueClientWith(certs.ClientOptions{CommonName: "alice",
		CRLDistributionPoints: []string{point.srv.URL + "/clients.crl"}})
	require.NoError(t, err)
	cert, key := filepath.Join(e.dir, "alice.pem"), filepath.Join(e.dir, "alice-key.pem")
	require.NoError(t, alice.WriteFiles(cert, key))
	require.NoError(t, writeFile(filepath.Join(e.dir, "client-ca.pem"), ca.CertPEM()))
	fetch := func(opts string) string {
		return strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
			"      certificates: [{cert: server.pem, key: server-key.pem}]\n"+
				"      client_auth:\n        mode: require-and-verify\n        ca: client-ca.pem\n"+
				"        crl_fetch: {enabled: true, cache_dir: crl-cache, "+opts+"}\n", 1)
	}

	e.write(t, fetch("timeout: 0s, max_urls: 0, max_bytes: 0"))
	code, _, stderr := runGantry(t, "check", "-c", e.file)
	assert.Equal(t, 1, code)
	for _, k := range []string{"timeout: must be positive", "max_urls: must be positive", "max_bytes: must be positive"} {
		assert.Contains(t, stderr, "listeners[0].tls.client_auth.crl_fetch."+k)
	}

	e.write(t, fetch("timeout: 2s, max_urls: 4, max_bytes: 64"))
	p := e.serve(t)
	assert.False(t, curlAs(t, e, cert, key), "no list under 64 bytes to be had: refused")
	waitFor(t, "the oversize list logged", func() bool { return strings.Contains(p.out(), "larger than crl_fetch.max_bytes (64)") })
}

// TestOCSPOptionsChecked: ocsp.must_staple ignore lets a must-staple
// certificate without a staple serve; ocsp.issuer and
// ocsp.max_response_bytes are read, errors at their lines.
func TestOCSPOptionsChecked(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	leaf, err := ca.IssueServerWith(certs.ServerOptions{Names: []string{"localhost"}, MustStaple: true})
	require.NoError(t, err)
	require.NoError(t, leaf.WriteFiles(filepath.Join(dir, "ms.pem"), filepath.Join(dir, "ms-key.pem")))
	config := func(certOCSP, ocsp string) string {
		return fmt.Sprintf(`listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: ms.pem, key: ms-key.pem%s}]
      ocsp: %s
routes: [{upstream: app}]
upstreams:
  app: {addresses: ["127.0.0.1:1"]}
`, certOCSP, ocsp)
	}
	file := filepath.Join(dir, "gantry.yaml")
	check := func(text string) (int, string) {
		require.NoError(t, writeFile(file, []byte(text)))
		code, _, stderr := runGantry(t, "check", "-c", file)
		return code, stderr
	}
	code, stderr := check(config("", "{must_staple: enforce}"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is must-staple")
	code, stderr = check(config("", "{must_staple: ignore}"))
	assert.Equal(t, 0, code, "ignore serves it unstapled: %s", stderr)

	code, stderr = check(config(", ocsp: {file: none.ocsp, issuer: missing-issuer.pem}", "{max_response_bytes: -1, must_staple: ignore}"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, file+":5: listeners[0].tls.ocsp.max_response_bytes: must not be negative")
	assert.Contains(t, stderr, file+":4: listeners[0].tls.certificates[0].ocsp.issuer: file "+filepath.Join(dir, "missing-issuer.pem")+" does not exist")
}

// TestInspectHelloOff: inspect_hello false hands the ClientHello to the
// backend unread, so the access log has no ja4; with sni set it is an
// error at its line.
func TestInspectHelloOff(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	origin := startPlainOrigin(t)
	access := filepath.Join(dir, "access.log")
	file := filepath.Join(dir, "gantry.yaml")
	text := fmt.Sprintf(`listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      inspect_hello: false
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log_file: %s}
`, origin.Listener.Addr().String(), access)
	require.NoError(t, writeFile(file, []byte(text)))
	p := start(t, "serve", "-c", file)
	port := listenerPort(t, p)
	curl(t, "--cacert", files.CA, "https://localhost:"+port+"/")
	waitFor(t, "the access log line", func() bool { return records(access) == 1 })
	b, err := os.ReadFile(access)
	require.NoError(t, err)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(b, &rec))
	assert.NotContains(t, rec, "ja4", "nothing read the ClientHello")
	assert.Equal(t, "TLS 1.3", rec["tls_version"], "served all the same")

	bad := strings.Replace(text, "      inspect_hello: false\n", "      inspect_hello: false\n      sni: {allow: [localhost]}\n", 1)
	require.NoError(t, writeFile(file, []byte(bad)))
	code, _, stderr := runGantry(t, "check", "-c", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, file+":5: listeners[0].tls.inspect_hello: is false, but sni (line 6)")
}

// TestJA4AllowList: server.filter.ja4.allow admits only the listed
// fingerprints: the Go client whose JA4 is listed gets in, curl does not.
func TestJA4AllowList(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	goJA4 := helloJA4(t, func(addr string) { _, _ = goDial(addr, cfg.Clone()) })
	origin := startPlainOrigin(t)
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, writeFile(file, []byte(fmt.Sprintf(`server:
  filter:
    ja4: {allow: [%s]}
listeners:
  - address: 127.0.0.1:0
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log: false}
`, goJA4, origin.Listener.Addr().String()))))
	p := start(t, "serve", "-c", file)
	port := listenerPort(t, p)
	_, err = goDial("127.0.0.1:"+port, cfg.Clone())
	assert.NoError(t, err, "the listed JA4 is admitted")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = exec.CommandContext(ctx, "curl", "-sS", "--max-time", "30", "--cacert", files.CA, "https://localhost:"+port+"/").Run() // #nosec G204 -- test client
	assert.Error(t, err, "curl's JA4 is not on the list")
}
