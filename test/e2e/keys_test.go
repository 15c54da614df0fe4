package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// TestUpstreamTLSKeysChecked: the upstream tls keys this change added
// (cipher_suites, groups, session_cache, session_cache_size) are read from
// the file and checked at their key by `gantry check`.
func TestUpstreamTLSKeysChecked(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	base := `listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: app}]
upstreams:
  app:
    addresses: [127.0.0.1:9]
    tls:
      ca: ca.pem
      TLSKEY
`
	file := filepath.Join(dir, "gantry.yaml")
	check := func(key string) (int, string) {
		require.NoError(t, os.WriteFile(file, []byte(strings.Replace(base, "TLSKEY", key, 1)), 0o600))
		code, _, stderr := runGantry(t, "check", "-c", file)
		return code, stderr
	}
	for _, good := range []string{"groups: [X25519, P-256]", "cipher_suites: [ECDHE-ECDSA-AES128-GCM-SHA256]", "session_cache: false", "session_cache_size: 16"} {
		code, stderr := check(good)
		assert.Equal(t, 0, code, "%s: %s", good, stderr)
	}
	for key, want := range map[string]string{
		"groups: [X25519, P-521]":  "gantry.yaml:11: upstreams.app.tls.groups[1]: ",
		"cipher_suites: [RC4-SHA]": "gantry.yaml:11: upstreams.app.tls.cipher_suites[0]: ",
		"session_cache: maybe":     "gantry.yaml:11: upstreams.app.tls.session_cache: ",
		"session_cache_size: -1":   "gantry.yaml:11: upstreams.app.tls.session_cache_size: ",
	} {
		code, stderr := check(key)
		assert.Equal(t, 1, code, key)
		assert.Contains(t, stderr, strings.Replace(want, "gantry.yaml", file, 1), key)
	}
}

// TestFilterRateThroughBinary: server.filter.rate_per_ip with rate_burst
// 2 lets a client open two connections at once and closes the third
// before any TLS byte is read.
func TestFilterRateThroughBinary(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`server:
  filter: {rate_per_ip: 0.01, rate_burst: 2}
listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      handshake_timeout: 1m
routes: [{upstream: app}]
upstreams:
  app: {addresses: [127.0.0.1:9]}
logging: {access_log: false}
`), 0o600))
	p := start(t, "serve", "-c", file)
	m := regexp.MustCompile(`on https://(\S+) `).FindStringSubmatch(p.waitLine(t, "listener "))
	require.NotNil(t, m)
	// One token a hundred seconds: the first two connections use the
	// burst, the third finds the bucket empty whatever the timing.
	for i := range 2 {
		c := dialFrom(t, "127.0.0.1", m[1])
		require.NoError(t, tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake(), "connection %d", i) // #nosec G402 -- only admission is tested
	}
	n, err := readOnce(dialFrom(t, "127.0.0.1", m[1]))
	assert.Zero(t, n)
	assertClosedNotTimedOut(t, err)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t))
}

// TestClientAuthSeveralCAs: client_auth.cas trusts clients of a second CA
// next to client_auth.ca, through the binary.
func TestClientAuthSeveralCAs(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	other, err := certs.NewDevCA()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other-ca.pem"), other.CertPEM(), 0o600))
	client, err := other.IssueClient("from-other")
	require.NoError(t, err)
	require.NoError(t, client.WriteFiles(filepath.Join(dir, "other.pem"), filepath.Join(dir, "other-key.pem")))
	stranger, err := certs.NewDevCA()
	require.NoError(t, err)
	outsider, err := stranger.IssueClient("outsider")
	require.NoError(t, err)
	require.NoError(t, outsider.WriteFiles(filepath.Join(dir, "outsider.pem"), filepath.Join(dir, "outsider-key.pem")))

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "origin ok") }))
	t.Cleanup(origin.Close)
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, `listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: ca.pem, cas: [other-ca.pem]}
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log: false}
`, origin.Listener.Addr().String()), 0o600))
	p := start(t, "serve", "-c", file)
	m := regexp.MustCompile(`on https://(\S+) `).FindStringSubmatch(p.waitLine(t, "listener "))
	require.NotNil(t, m)

	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	get := func(cert, key string) error {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, cert), filepath.Join(dir, key))
		require.NoError(t, err)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{pair}}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + m[1] + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	assert.NoError(t, get("client.pem", "client-key.pem"), "a client of client_auth.ca")
	assert.NoError(t, get("other.pem", "other-key.pem"), "a client of a CA in client_auth.cas")
	assert.Error(t, get("outsider.pem", "outsider-key.pem"), "a client of neither")
}
