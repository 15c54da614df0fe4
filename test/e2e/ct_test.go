package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// newCTLogs makes logs named as given, for one test.
func newCTLogs(t *testing.T, names ...string) map[string]*tlstest.CTLog {
	t.Helper()
	logs := map[string]*tlstest.CTLog{}
	for _, n := range names {
		l, err := tlstest.NewCTLog(n)
		require.NoError(t, err)
		logs[n] = l
	}
	return logs
}

// serveListener starts `gantry serve` and returns the process and the port
// of its listener named name.
func serveListener(t *testing.T, file, name string) (*process, string) {
	t.Helper()
	p := start(t, "serve", "-c", file)
	m := regexp.MustCompile(`listener "` + name + `" on https://(\S+) `).FindStringSubmatch(p.waitLine(t, `listener "`+name+`"`))
	require.NotNil(t, m)
	_, port, err := net.SplitHostPort(m[1])
	require.NoError(t, err)
	return p, port
}

// TestCTUpstreamPolicy: an origin (crypto/tls) serves SCTs of logs a and b
// in the TLS extension, another has them embedded in its certificate.
// Through the binary, on every upstream backend, upstreams whose policy
// names a and b get the responses; one that needs two of a and c gets a
// 502, and the log says why.
func TestCTUpstreamPolicy(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(dir, "origin-ca.pem"), ca.CertPEM()))
	leaf, err := ca.IssueServer("localhost", "127.0.0.1")
	require.NoError(t, err)
	logs := newCTLogs(t, "log-a", "log-b", "log-c")
	var scts [][]byte
	for _, n := range []string{"log-a", "log-b"} {
		sct, err := logs[n].SCTForCert(leaf.Cert.Raw)
		require.NoError(t, err)
		scts = append(scts, sct)
	}
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin %s", r.URL.Path)
	}))
	origin.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{{
		Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, SignedCertificateTimestamps: scts,
	}}}
	origin.StartTLS()
	t.Cleanup(origin.Close)
	// A second origin's certificate carries the SCTs of logs a and b
	// embedded, issued by the tlstest root.
	pki := tlstest.NewPKI(t)
	embedded, err := pki.LeafWithEmbeddedSCTs([]string{"localhost"}, logs["log-a"], logs["log-b"])
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(dir, "embedded-ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.ECDSACA.Raw})))
	embeddedOrigin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "embedded origin %s", r.URL.Path)
	}))
	embeddedOrigin.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{{Certificate: embedded.Chain, PrivateKey: embedded.Key}}}
	embeddedOrigin.StartTLS()
	t.Cleanup(embeddedOrigin.Close)
	// Log b's key as a PEM file, the others inline.
	require.NoError(t, writeFile(filepath.Join(dir, "log-b.pem"), logs["log-b"].PublicKeyPEM()))

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			file := filepath.Join(dir, "gantry-"+backend+".yaml")
			require.NoError(t, writeFile(file, fmt.Appendf(nil, `
listeners:
  - name: ct
    address: 127.0.0.1:0
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes:
  - {path_prefix: /strict/, upstream: strict}
  - {path_prefix: /embedded/, upstream: embedded}
  - {upstream: ok}
upstreams:
  ok:
    addresses: [%[1]q]
    health: {max_fails: -1}
    tls:
      backend: %[2]s
      ca: origin-ca.pem
      server_name: localhost
      ct:
        min_scts: 2
        logs:
          - {name: log-a, key: %[3]s}
          - {name: log-b, key_file: log-b.pem}
  strict:
    addresses: [%[1]q]
    health: {max_fails: -1}
    tls:
      backend: %[2]s
      ca: origin-ca.pem
      server_name: localhost
      ct:
        min_scts: 2
        logs:
          - {name: log-a, key: %[3]s}
          - {name: log-c, key: %[4]s}
  embedded:
    addresses: [%[5]q]
    health: {max_fails: -1}
    tls:
      backend: %[2]s
      ca: embedded-ca.pem
      server_name: localhost
      ct:
        logs:
          - {name: log-a, key: %[3]s}
          - {name: log-b, key_file: log-b.pem}
logging: {access_log: false}
`, origin.Listener.Addr().String(), backend, logs["log-a"].PublicKeyBase64(), logs["log-c"].PublicKeyBase64(),
				embeddedOrigin.Listener.Addr().String())))
			p, port := serveListener(t, file, "ct")
			base := "https://localhost:" + port
			assert.Equal(t, "origin /ok\n200", curl(t, "--cacert", files.CA, "-w", "\n%{http_code}", base+"/ok"))
			assert.Equal(t, "embedded origin /embedded/x\n200", curl(t, "--cacert", files.CA, "-w", "\n%{http_code}", base+"/embedded/x"))
			assert.Equal(t, "502", curl(t, "--cacert", files.CA, "-o", "/dev/null", "-w", "%{http_code}", base+"/strict/x"))
			waitFor(t, "the CT refusal in the log", func() bool {
				return strings.Contains(p.out(), "certificate transparency: 1 valid SCTs from distinct configured logs, 2 required")
			})
			out := p.out()
			assert.Contains(t, out, "valid from log-a")
			assert.Contains(t, out, "which is not configured")
		})
	}
}

// TestCTServedDownstream: a listener's certificates[0].scts file reaches a
// crypto/tls client as the SCTs of the TLS extension, on every backend.
func TestCTServedDownstream(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	certPEM, err := os.ReadFile(files.ServerCert)
	require.NoError(t, err)
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	logs := newCTLogs(t, "log-a", "log-b")
	var scts [][]byte
	for _, n := range []string{"log-a", "log-b"} {
		sct, err := logs[n].SCTForCert(block.Bytes)
		require.NoError(t, err)
		scts = append(scts, sct)
	}
	list, err := gantrytls.JoinSCTList(scts)
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(dir, "server.sct"), list))
	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			file := filepath.Join(dir, "gantry-"+backend+".yaml")
			require.NoError(t, writeFile(file, fmt.Appendf(nil, `
listeners:
  - name: sct
    address: 127.0.0.1:0
    tls:
      backend: %s
      certificates: [{cert: server.pem, key: server-key.pem, scts: server.sct}]
routes: [{upstream: app}]
upstreams:
  app: {addresses: ["127.0.0.1:9"]}
logging: {access_log: false}
`, backend)))
			_, port := serveListener(t, file, "sct")
			for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
				c, err := stdtls.Dial("tcp", "127.0.0.1:"+port, &stdtls.Config{ServerName: "localhost", RootCAs: roots, MaxVersion: v})
				require.NoError(t, err)
				assert.Equal(t, scts, c.ConnectionState().SignedCertificateTimestamps, "version %x", v)
				require.NoError(t, c.Close())
			}
		})
	}
}

// TestCheckCTKeys: `gantry check` refuses bad CT settings at file:line:key.
func TestCheckCTKeys(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	logs := newCTLogs(t, "log-a")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384DER, err := x509.MarshalPKIXPublicKey(p384.Public())
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(dir, "p384.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384DER})))
	require.NoError(t, writeFile(filepath.Join(dir, "garbage.sct"), []byte{0, 9, 1, 2}))
	base := `listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem, SCTS}]
routes: [{upstream: app}]
upstreams:
  app:
    addresses: [127.0.0.1:9]
    tls:
      ca: ca.pem
      ct:
        MIN
        logs:
          - {name: log-a, KEY}
`
	file := filepath.Join(dir, "gantry.yaml")
	check := func(scts, min, key string) (int, string) {
		text := strings.NewReplacer("SCTS", scts, "MIN", min, "KEY", key).Replace(base)
		require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
		code, _, stderr := runGantry(t, "check", "-c", file)
		return code, stderr
	}
	good := "key: " + logs["log-a"].PublicKeyBase64()
	code, stderr := check("scts: ''", "min_scts: 1", good)
	assert.Equal(t, 0, code, stderr)
	for _, tt := range []struct{ scts, min, key, want string }{
		{"scts: ''", "min_scts: 1", "key: 'not base64!'", `gantry.yaml:14: upstreams.app.tls.ct.logs[0].key: log "log-a": key is neither PEM nor base64`},
		{"scts: ''", "min_scts: 1", "key: aGVsbG8=", `gantry.yaml:14: upstreams.app.tls.ct.logs[0].key: log "log-a": key is not a DER SubjectPublicKeyInfo`},
		{"scts: ''", "min_scts: 1", "key_file: p384.pem", `gantry.yaml:14: upstreams.app.tls.ct.logs[0].key_file: log "log-a": ECDSA log key is not on P-256`},
		{"scts: ''", "min_scts: 1", "key_file: missing.pem", `gantry.yaml:14: upstreams.app.tls.ct.logs[0].key_file: log "log-a": `},
		{"scts: ''", "min_scts: 2", good, `gantry.yaml:12: upstreams.app.tls.ct.min_scts: 2 SCTs from distinct logs are required but only 1 logs are configured`},
		{"scts: garbage.sct", "min_scts: 1", good, `gantry.yaml:4: listeners[0].tls.certificates[0].scts: `},
	} {
		code, stderr := check(tt.scts, tt.min, tt.key)
		assert.Equal(t, 1, code, tt.key)
		assert.Contains(t, stderr, strings.Replace(tt.want, "gantry.yaml", file, 1), "%s %s %s", tt.scts, tt.min, tt.key)
	}
}
