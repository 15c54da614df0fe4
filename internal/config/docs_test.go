package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// TestDocumentedExampleIsValid keeps docs/CONFIG.md honest: its complete
// example must pass validation once its files exist.
func TestDocumentedExampleIsValid(t *testing.T) {
	c := parseDocumentedExample(t, "")
	assert.Len(t, c.Listeners, 1)
	assert.Len(t, c.Routes, 2)
	assert.Len(t, c.ServerTLS(0).SessionTicketKeys, 2)
	assert.Len(t, c.ServerTLS(0).ECHKeys, 2)
	assert.Equal(t, 0, c.Identity().UID)
	assert.Equal(t, []string{"192.0.2.0/24"}, c.Server.Filter.Deny)
	assert.Len(t, c.ServerTLS(0).Certificates[1].SCTs, 1, "the SCT file of the second certificate is loaded")
	ct := c.Upstreams["api"].TLS.Config.CT
	require.NotNil(t, ct)
	assert.Equal(t, 2, ct.MinSCTs)
	require.Len(t, ct.Logs, 2)
	assert.Contains(t, ct.Logs[1].Key, "PUBLIC KEY", "key_file is read into key")
}

// parseDocumentedExample parses the complete example with its files made,
// with serverExtra added to its server section.
func parseDocumentedExample(t *testing.T, serverExtra string) *Config {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)## A complete example\\s+```yaml\\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/CONFIG.md has no complete example")
	example := string(m[1])

	dir := t.TempDir()
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	issue := func(cert, key string, i *certs.Issued, err error) {
		require.NoError(t, err)
		keyPEM, err := i.KeyPEM()
		require.NoError(t, err)
		write(cert, i.CertPEM())
		write(key, keyPEM)
	}
	s1, err := ca.IssueServer("example.com")
	issue("example.com.pem", "example.com-key.pem", s1, err)
	// api.example.com staples OCSP: it names a responder, and its chain
	// carries its issuer, which responses are checked against.
	s2, err := ca.IssueServerWith(certs.ServerOptions{Names: []string{"api.example.com"}, OCSPServer: "http://ocsp.example.com/"})
	issue("api.example.com.pem", "api.example.com-key.pem", s2, err)
	write("api.example.com.pem", append(s2.CertPEM(), ca.CertPEM()...))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "ocsp"), 0o700))
	c1, err := ca.IssueClient("gantry")
	issue("gantry-client.pem", "gantry-client-key.pem", c1, err)
	write("clients-ca.pem", ca.CertPEM())
	write("internal-ca.pem", ca.CertPEM())
	write("ticket-new.key", []byte(strings.Repeat("ab", 32)))
	write("ticket-old.key", []byte(strings.Repeat("cd", 32)))
	for i, name := range []string{"ech-new.pem", "ech-old.pem"} {
		k, err := certs.NewECHKey(certs.ECHKeyOptions{PublicName: "example.com", ConfigID: uint8(i)})
		require.NoError(t, err)
		require.NoError(t, certs.WriteECHKeyFile(filepath.Join(dir, name), k))
	}
	for _, name := range []string{"ct-log-one", "ct-log-two"} {
		log, err := tlstest.NewCTLog(name)
		require.NoError(t, err)
		write(name+".pem", log.PublicKeyPEM())
		if name == "ct-log-one" {
			sct, err := log.SCTForCert(s2.Cert.Raw)
			require.NoError(t, err)
			list, err := gantrytls.JoinSCTList([][]byte{sct})
			require.NoError(t, err)
			write("api.example.com.sct", list)
		}
	}

	example = strings.Replace(example, "server:\n", "server:\n"+serverExtra, 1)
	example = strings.ReplaceAll(example, "/etc/gantry/", dir+"/")
	example = strings.ReplaceAll(example, "/var/cache/gantry/", dir+"/")
	example = strings.Replace(example, "user: gantry", "user: root", 1)
	example = strings.Replace(example, "group: gantry", "group: root", 1)
	example = strings.Replace(example, `address: ":443"`, `address: "127.0.0.1:0"`, 1)

	c, err := Parse("CONFIG.md", dir, []byte(example))
	require.NoError(t, err)
	return c
}

// TestOptionsFromEveryPart: the documented example sets something in every
// part of proxy.Options that a file can reach, and Options carries each of
// them over; only what a Go program supplies stays empty.
func TestOptionsFromEveryPart(t *testing.T) {
	// CONNECT is off in the example, and off is the zero value.
	c := parseDocumentedExample(t, "  connect: {allow: true, ports: [443]}\n")
	var access strings.Builder
	opts := c.Options(&access, &access)
	v := reflect.ValueOf(opts)
	goOnly := map[string]bool{"Metrics": true, "Hooks": true}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if goOnly[name] {
			continue
		}
		assert.False(t, v.Field(i).IsZero(), "proxy.Options.%s is not set from the config", name)
	}
}
