package e2e

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// TestClientAuth follows the mTLS tutorial path: `gantry certs dev` files,
// a listener with require-and-verify, and curl with and without the client
// certificate, on every backend.
func TestClientAuth(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startOrigin(t, ca)
	dir := t.TempDir()
	code, _, stderr := runGantry(t, "certs", "dev", "--out", dir)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, writeFile(filepath.Join(dir, "origin-ca.pem"), ca.CertPEM()))

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			port := startProxy(t, dir, fmt.Sprintf(`
listeners:
  - address: 127.0.0.1:0
    tls:
      backend: %s
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: ca.pem}
routes: [{upstream: app}]
upstreams:
  app:
    addresses: [%q]
    tls: {ca: origin-ca.pem, server_name: localhost}
logging: {access_log: false}
`, backend, origin.Listener.Addr().String()))
			url := "https://localhost:" + port + "/secure"
			ca := filepath.Join(dir, "ca.pem")

			out := curl(t, "--cacert", ca, "--cert", filepath.Join(dir, "client.pem"),
				"--key", filepath.Join(dir, "client-key.pem"), url)
			assert.Contains(t, out, "origin: HTTP/1.1 GET /secure")

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "30", "--cacert", ca, url)
			body, err := cmd.Output()
			assert.Error(t, err, "a client without a certificate must be refused")
			assert.NotContains(t, string(body), "origin:")
		})
	}
}

// TestUpstreamClientCertificate: an origin that requires a client
// certificate gets the one configured under upstreams.NAME.tls, from every
// backend.
func TestUpstreamClientCertificate(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	leaf, err := ca.IssueServer("localhost")
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "client=%s\n", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	origin.TLS = &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}},
		ClientAuth:   stdtls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	origin.StartTLS()
	t.Cleanup(origin.Close)

	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	client, err := ca.IssueClient("gantry-upstream")
	require.NoError(t, err)
	require.NoError(t, client.WriteFiles(filepath.Join(dir, "up.pem"), filepath.Join(dir, "up-key.pem")))
	require.NoError(t, writeFile(filepath.Join(dir, "origin-ca.pem"), ca.CertPEM()))

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			port := startProxy(t, dir, fmt.Sprintf(`
listeners:
  - address: 127.0.0.1:0
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes: [{upstream: app}]
upstreams:
  app:
    addresses: [%q]
    tls: {backend: %s, ca: origin-ca.pem, server_name: localhost, cert: up.pem, key: up-key.pem}
logging: {access_log: false}
`, origin.Listener.Addr().String(), backend))
			out := curl(t, "--cacert", files.CA, "https://localhost:"+port+"/")
			assert.Equal(t, "client=gantry-upstream", strings.TrimSpace(out))
		})
	}
}

// TestClientIdentityThroughBinary: `gantry serve` with an identity rule
// and RFC 9440 forwarding. curl with the allowed client certificate gets
// 200 and the origin gets that certificate as Client-Cert (not the one the
// client wrote); curl with another certificate from the same CA, or with
// none, is refused and the origin gets nothing.
func TestClientIdentityThroughBinary(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	server, err := ca.IssueServer("localhost")
	require.NoError(t, err)
	require.NoError(t, server.WriteFiles(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")))
	require.NoError(t, writeFile(filepath.Join(dir, "ca.pem"), ca.CertPEM()))
	allowed, err := ca.IssueClient("billing")
	require.NoError(t, err)
	require.NoError(t, allowed.WriteFiles(filepath.Join(dir, "billing.pem"), filepath.Join(dir, "billing-key.pem")))
	denied, err := ca.IssueClient("intruder")
	require.NoError(t, err)
	require.NoError(t, denied.WriteFiles(filepath.Join(dir, "intruder.pem"), filepath.Join(dir, "intruder-key.pem")))

	var mu sync.Mutex
	var got []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Values("Client-Cert")...)
		mu.Unlock()
		fmt.Fprintln(w, "origin ok")
	}))
	t.Cleanup(origin.Close)

	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, writeFile(file, fmt.Appendf(nil, `
listeners:
  - name: mtls
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: ca.pem}
      client_identity:
        allow: {cn: [billing]}
        forward: {client_cert: true}
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log: false}
`, origin.Listener.Addr().String())))
	p := start(t, "serve", "-c", file)
	m := regexp.MustCompile(`listener "mtls" on https://(\S+) `).FindStringSubmatch(p.waitLine(t, "listener "))
	require.NotNil(t, m)
	_, port, err := net.SplitHostPort(m[1])
	require.NoError(t, err)
	url := "https://localhost:" + port + "/"
	caFile := filepath.Join(dir, "ca.pem")

	out := curl(t, "--cacert", caFile, "--cert", filepath.Join(dir, "billing.pem"), "--key", filepath.Join(dir, "billing-key.pem"),
		"-H", "Client-Cert: :ZXZpbA==:", "-w", "%{http_code}", url)
	assert.Equal(t, "origin ok\n200", out)
	mu.Lock()
	require.Len(t, got, 1, "exactly one Client-Cert: Gantry's")
	want := ":" + base64.StdEncoding.EncodeToString(allowed.Cert.Raw) + ":"
	assert.Equal(t, want, got[0])
	mu.Unlock()

	for name, args := range map[string][]string{
		"not allowed":    {"--cert", filepath.Join(dir, "intruder.pem"), "--key", filepath.Join(dir, "intruder-key.pem")},
		"no certificate": nil,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "curl", append(append([]string{"-sS", "--max-time", "30", "--cacert", caFile}, args...), url)...)
		body, err := cmd.Output()
		cancel()
		assert.Error(t, err, "%s: curl must fail", name)
		assert.NotContains(t, string(body), "origin ok", name)
	}
	mu.Lock()
	assert.Len(t, got, 1, "the refused clients reached no origin")
	mu.Unlock()
	// Logged once the alert is sent, so possibly after curl gave up.
	waitFor(t, "the refusal logged", func() bool { return strings.Contains(p.out(), "client identity refused") })
}

// TestCRLReload: a listener with a CRL lets a client in; the client is
// revoked by writing a new CRL and `gantry reload`, and is refused from
// then on by the same process, on every backend.
func TestCRLReload(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t)
			ca, err := certs.NewDevCA()
			require.NoError(t, err)
			client, err := ca.IssueClient("alice")
			require.NoError(t, err)
			require.NoError(t, client.WriteFiles(filepath.Join(e.dir, "alice.pem"), filepath.Join(e.dir, "alice-key.pem")))
			require.NoError(t, writeFile(filepath.Join(e.dir, "client-ca.pem"), ca.CertPEM()))
			writeCRL := func(revoked ...*x509.Certificate) {
				var serials []*big.Int
				for _, c := range revoked {
					serials = append(serials, c.SerialNumber)
				}
				crl, err := ca.CRL(serials, time.Now().Add(time.Hour))
				require.NoError(t, err)
				require.NoError(t, writeFile(filepath.Join(e.dir, "clients.crl"), crl))
			}
			writeCRL()
			e.write(t, strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
				fmt.Sprintf("      backend: %s\n      certificates: [{cert: server.pem, key: server-key.pem}]\n"+
					"      client_auth: {mode: require-and-verify, ca: client-ca.pem, crls: [clients.crl]}\n", backend), 1))
			p := e.serve(t)

			url := "https://localhost" + e.addr[strings.LastIndex(e.addr, ":"):] + "/"
			args := []string{"--cacert", filepath.Join(e.dir, "ca.pem"), "--cert", filepath.Join(e.dir, "alice.pem"),
				"--key", filepath.Join(e.dir, "alice-key.pem"), url}
			assert.Equal(t, "A", curl(t, args...))

			writeCRL(client.Cert)
			code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			body, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "30"}, args...)...).Output()
			assert.Error(t, err, "the revoked client is refused")
			assert.NotContains(t, string(body), "A")
			assert.Equal(t, e.pid(t), p.cmd.Process.Pid, "by the same process, without a restart")
		})
	}
}
