package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

// fixtureDir writes a development CA, server and client pair into a temp
// dir; configs in these tests name them relative to that dir.
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	return dir
}

const goodConfig = `
server:
  user: ""
  limits:
    max_header_bytes: 32768
    max_header_count: 50
    max_body_bytes: 1048576
    h2_max_concurrent_streams: 64
  timeouts:
    tls_handshake: 5s
    keepalive_idle: 2m
    shutdown_grace: 1m30s
  connect:
    allow: true
    ports: [443, 8443]
listeners:
  - name: public
    address: 127.0.0.1:0
    tls:
      backend: gostd
      policy: modern
      groups: [X25519, P-256]
      certificates:
        - cert: server.pem
          key: server-key.pem
      alpn: [h2, http/1.1]
      client_auth:
        mode: verify-if-given
        ca: ca.pem
      session_tickets:
        enabled: true
      handshake_timeout: 3s
routes:
  - host: example.test
    path_prefix: /api/
    upstream: api
  - upstream: web
upstreams:
  api:
    addresses: [127.0.0.1:9001, 127.0.0.1:9002]
    balance: least_conn
    health:
      max_fails: 2
      eject_for: 30s
      check: {path: /healthz, interval: 5s, timeout: 1s, expect_status: 200}
    tls:
      server_name: api.internal
      ca: ca.pem
      cert: client.pem
      key: client-key.pem
      alpn: [h2, http/1.1]
  web:
    addresses: [127.0.0.1:9003]
logging:
  level: debug
  format: text
  access_log: false
  redact_headers: [X-Api-Key]
metrics:
  address: 127.0.0.1:9100
`

func TestParseGoodConfig(t *testing.T) {
	dir := fixtureDir(t)
	c, err := Parse("gantry.yaml", dir, []byte(goodConfig))
	require.NoError(t, err)

	assert.Len(t, c.Listeners, 1)
	assert.Len(t, c.Routes, 2)
	assert.Equal(t, 5*time.Second, c.Server.Timeouts.TLSHandshake)
	assert.Equal(t, 2*time.Minute, c.Server.Timeouts.KeepaliveIdle)
	assert.Equal(t, 90*time.Second, c.Server.Timeouts.ShutdownGrace)
	// Keys left out take their defaults: nothing is ever unbounded.
	assert.Equal(t, proxy.DefaultTimeouts().UpstreamConnect, c.Server.Timeouts.UpstreamConnect)
	assert.Equal(t, proxy.DefaultTimeouts().RequestHeader, c.Server.Timeouts.RequestHeader)

	sc := c.ServerTLS(0)
	require.Len(t, sc.Certificates, 1)
	assert.Equal(t, gantrytls.ClientAuthVerifyIfGiven, sc.ClientAuth)
	assert.Len(t, sc.ClientCAs, 1)
	assert.Equal(t, 3*time.Second, sc.HandshakeTimeout)
	assert.False(t, sc.DisableSessionTickets)

	assert.Equal(t, "debug", c.Logging.Level)
	assert.False(t, c.Logging.AccessLogEnabled())
	assert.False(t, c.Identity().Set())
	assert.Equal(t, lineOf(goodConfig, "backend: gostd"), c.Line("listeners[0].tls.backend"))
}

func TestDefaultsApplied(t *testing.T) {
	dir := fixtureDir(t)
	c, err := Parse("gantry.yaml", dir, []byte(`
listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: web}]
upstreams:
  web: {addresses: ["127.0.0.1:80"]}
`))
	require.NoError(t, err)
	assert.Equal(t, proxy.DefaultTimeouts(), c.Server.Timeouts)
	assert.Equal(t, gantrytls.DefaultBackend, c.Listeners[0].TLS.Backend)
	assert.Equal(t, "127.0.0.1:0", c.Listeners[0].Name)
	assert.Equal(t, proxy.DefaultTimeouts().TLSHandshake, c.ServerTLS(0).HandshakeTimeout)
	assert.Equal(t, "json", c.Logging.Format)
	assert.Equal(t, "info", c.Logging.Level)
	assert.True(t, c.Logging.AccessLogEnabled())
}

// missingBackend is a backend name this test binary lacks, whichever tags
// it was built with (openssl and boringssl never share a binary).
func missingBackend(t *testing.T) (name, tag string) {
	t.Helper()
	for _, n := range []string{"openssl", "boringssl"} {
		if _, err := gantrytls.Lookup(n); err != nil {
			return n, n
		}
	}
	t.Fatal("both openssl and boringssl are compiled in, which the build forbids")
	return "", ""
}

func TestParseErrors(t *testing.T) {
	dir := fixtureDir(t)
	absent, tag := missingBackend(t)

	// Each case edits goodConfig by replacing old with new; want lists
	// strings the error must contain.
	tests := []struct {
		name     string
		old, new string
		key      string
		at       string // marks the line the error must point at
		want     []string
	}{
		{
			name: "identity rules without verification", old: "        mode: verify-if-given\n        ca: ca.pem\n",
			new: "        mode: request\n        ca: ca.pem\n      client_identity:\n        allow: {cn: [web]}\n", key: "listeners[0].tls.client_identity", at: "client_identity:",
			want: []string{"needs client_auth.mode verify-if-given or require-and-verify (it is request)"},
		},
		{
			name: "bad URI pattern", old: "    path_prefix: /api/\n",
			new: "    path_prefix: /api/\n    client_identity:\n      allow:\n        uri: [\"spiffe://example.org/**/x\"]\n", key: "routes[0].client_identity.allow.uri[0]", at: "uri: [",
			want: []string{`"**" is allowed as the last segment only`},
		},
		{
			name: "xfcc part without xfcc", old: "    path_prefix: /api/\n",
			new: "    path_prefix: /api/\n    client_identity:\n      forward: {xfcc_cert: true}\n", key: "routes[0].client_identity.forward.xfcc_cert", at: "forward: {xfcc_cert",
			want: []string{"needs forward.xfcc: true"},
		},
		{
			name: "unknown key", old: "      alpn: [h2, http/1.1]\n      client_auth:",
			new: "      alpn: [h2, http/1.1]\n      client_auht:", key: "listeners[0].tls.client_auht", at: "client_auht:",
			want: []string{`unknown key "client_auht"`, "client_auth"},
		},
		{
			name: "bad duration", old: "    keepalive_idle: 2m", new: "    keepalive_idle: 2 minutes",
			key: "server.timeouts.keepalive_idle", at: "keepalive_idle:", want: []string{`invalid duration "2 minutes"`},
		},
		{
			name: "duration without unit", old: "    tls_handshake: 5s", new: "    tls_handshake: 5",
			key: "server.timeouts.tls_handshake", at: "tls_handshake:", want: []string{`invalid duration "5"`},
		},
		{
			name: "zero timeout", old: "    shutdown_grace: 1m30s", new: "    shutdown_grace: 0s",
			key: "server.timeouts.shutdown_grace", at: "shutdown_grace:", want: []string{"cannot be turned off"},
		},
		{
			name: "missing cert file", old: "        - cert: server.pem", new: "        - cert: nope.pem",
			key: "listeners[0].tls.certificates[0].cert", at: "- cert: nope.pem", want: []string{"nope.pem", "does not exist"},
		},
		{
			name: "unknown backend", old: "      backend: gostd", new: "      backend: " + absent,
			key: "listeners[0].tls.backend", at: "backend: " + absent, want: []string{"-tags " + tag},
		},
		{
			name: "misspelt backend", old: "      backend: gostd", new: "      backend: gotsd",
			key: "listeners[0].tls.backend", at: "backend: gotsd", want: []string{`unknown backend "gotsd"`, "gostd"},
		},
		{
			name: "unknown policy", old: "      policy: modern", new: "      policy: old",
			key: "listeners[0].tls.policy", at: "policy: old", want: []string{`unknown policy "old"`, "modern", "intermediate"},
		},
		{
			name: "verify mode without CA", old: "        ca: ca.pem\n      session_tickets:",
			new: "      session_tickets:", key: "listeners[0].tls.client_auth.ca", at: "client_auth:",
			want: []string{"verify-if-given verifies client certificates and needs a ca"},
		},
		{
			name: "route to undefined upstream", old: "  - upstream: web", new: "  - upstream: wbe",
			key: "routes[1].upstream", at: "- upstream: wbe", want: []string{`upstream "wbe" is not defined`, "api, web"},
		},
		{
			name: "duplicate listener address",
			old:  "listeners:\n  - name: public\n    address: 127.0.0.1:0",
			new: "listeners:\n  - address: 127.0.0.1:8443\n    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}\n" +
				"  - name: public\n    address: 127.0.0.1:8443",
			key: "listeners[1].address", at: "    address: 127.0.0.1:8443", want: []string{"already used by listeners[0] (line 17)"},
		},
		{
			name: "unknown group", old: "      groups: [X25519, P-256]", new: "      groups: [X25519, P-521]",
			key: "listeners[0].tls.groups[1]", at: "groups: [X25519, P-521]", want: []string{`unknown group "P-521"`},
		},
		{
			name: "TLS 1.2 suite under modern", old: "      groups: [X25519, P-256]",
			new: "      cipher_suites: [ECDHE-ECDSA-AES128-GCM-SHA256]", key: "listeners[0].tls.cipher_suites[0]", at: "cipher_suites:",
			want: []string{"TLS 1.3 only"},
		},
		{
			// gostd, like BoringSSL, always offers all its TLS 1.3 suites:
			// a subset is refused at the key instead of being ignored.
			name: "TLS 1.3 suite subset on a backend that cannot narrow them", old: "      groups: [X25519, P-256]",
			new: "      cipher_suites: [TLS_AES_128_GCM_SHA256]", key: "listeners[0].tls.cipher_suites", at: "cipher_suites:",
			want: []string{"backend gostd"},
		},
		{
			name: "unknown balance", old: "    balance: least_conn", new: "    balance: random",
			key: "upstreams.api.balance", at: "balance: random", want: []string{`unknown balance "random"`},
		},
		{
			name: "upstream cert without key", old: "      key: client-key.pem\n", new: "",
			key: "upstreams.api.tls.key", at: "    tls:\n      server_name", want: []string{"key is required"},
		},
		{
			name: "bad ALPN", old: "      alpn: [h2, http/1.1]\n      client_auth:",
			new: "      alpn: [h3]\n      client_auth:", key: "listeners[0].tls.alpn[0]", at: "alpn: [h3]",
			want: []string{`protocol "h3"`},
		},
		{
			name: "wrong type", old: "    max_header_count: 50", new: "    max_header_count: many",
			key: "server.limits.max_header_count", at: "max_header_count: many", want: []string{"want a integer", `"many"`},
		},
		{
			name: "unknown user", old: `  user: ""`, new: "  user: no-such-user-gantry",
			key: "server.user", at: "user: no-such", want: []string{`"no-such-user-gantry" does not exist`},
		},
		{
			name: "bad log format", old: "  format: text", new: "  format: xml",
			key: "logging.format", at: "format: xml", want: []string{`unknown format "xml"`},
		},
		{
			name: "ocsp fetch without a responder", old: "          key: server-key.pem\n",
			new: "          key: server-key.pem\n          ocsp:\n            fetch: true\n            issuer: ca.pem\n",
			key: "listeners[0].tls.certificates[0].ocsp.fetch", at: "fetch: true", want: []string{"names no OCSP responder"},
		},
		{
			name: "ocsp file and fetch", old: "          key: server-key.pem\n",
			new: "          key: server-key.pem\n          ocsp: {file: x.der, fetch: true}\n",
			key: "listeners[0].tls.certificates[0].ocsp", at: "ocsp: {file", want: []string{"not both"},
		},
		{
			name: "bad must_staple", old: "      handshake_timeout: 3s\n",
			new: "      handshake_timeout: 3s\n      ocsp:\n        must_staple: always\n",
			key: "listeners[0].tls.ocsp.must_staple", at: "must_staple: always", want: []string{`unknown must-staple policy "always"`},
		},
		{
			name: "bad upstream ocsp", old: "      key: client-key.pem\n",
			new: "      key: client-key.pem\n      ocsp: sometimes\n",
			key: "upstreams.api.tls.ocsp", at: "ocsp: sometimes", want: []string{`unknown OCSP check "sometimes"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, goodConfig, tt.old, "test case edits a line that is not in goodConfig")
			text := strings.Replace(goodConfig, tt.old, tt.new, 1)
			_, err := Parse("gantry.yaml", dir, []byte(text))
			require.Error(t, err)

			var ce *Error
			require.True(t, errors.As(err, &ce), "error %v is not a *config.Error", err)
			assert.Equal(t, tt.key, ce.Key)
			assert.Equal(t, "gantry.yaml", ce.File)
			require.Contains(t, text, tt.at)
			wantLine := lineOf(text, tt.at)
			assert.Equal(t, wantLine, ce.Line, "error %q", err)
			msg := err.Error()
			assert.Contains(t, msg, fmt.Sprintf("gantry.yaml:%d: %s: ", wantLine, tt.key))
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

// lineOf is the 1-based line where marker starts in text.
func lineOf(text, marker string) int {
	i := strings.Index(text, marker)
	if i < 0 {
		return -1
	}
	return strings.Count(text[:i], "\n") + 1
}

func TestMissingKeyPointsAtParent(t *testing.T) {
	dir := fixtureDir(t)
	text := "listeners:\n  - address: 127.0.0.1:0\n    tls:\n      backend: gostd\nroutes: [{upstream: web}]\nupstreams:\n  web: {addresses: [\"127.0.0.1:80\"]}\n"
	_, err := Parse("g.yaml", dir, []byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "g.yaml:3: listeners[0].tls.certificates: at least one {cert, key} pair is required")
}

func TestSeveralErrorsReportedAtOnce(t *testing.T) {
	dir := fixtureDir(t)
	text := strings.Replace(goodConfig, "    keepalive_idle: 2m", "    keepalive_idle: soon", 1)
	text = strings.Replace(text, "  - upstream: web", "  - upstreams: web", 1)
	_, err := Parse("gantry.yaml", dir, []byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server.timeouts.keepalive_idle")
	assert.Contains(t, err.Error(), "routes[1].upstreams")
}

func TestSyntaxAndShapeErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "config is empty"},
		{"syntax", "server:\n  user: x\n   group: y\n", "x.yaml:3: YAML syntax: "},
		{"list where mapping", "server: [1, 2]\n", "server: want a mapping"},
		{"two documents", "server: {}\n---\nserver: {}\n", "more than one YAML document"},
		{"duplicate key", "metrics: {address: \"a:1\"}\nmetrics: {address: \"b:1\"}\n", `duplicate key "metrics"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", t.TempDir(), []byte(tt.text))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "x.yaml"), "error %q does not name the file", err)
		})
	}
}

func TestLoadResolvesRelativeToConfigFile(t *testing.T) {
	dir := fixtureDir(t)
	path := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(path, []byte(goodConfig), 0o600))
	// Run from elsewhere: file names in the config stay relative to it.
	t.Chdir(t.TempDir())
	c, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, path, c.File)

	_, err = Load(filepath.Join(dir, "absent.yaml"))
	assert.ErrorContains(t, err, "absent.yaml")
}

func TestLookupIdentity(t *testing.T) {
	id, err := lookupIdentity("", "")
	require.NoError(t, err)
	assert.False(t, id.Set())

	id, err = lookupIdentity("root", "")
	require.NoError(t, err)
	assert.Equal(t, 0, id.UID)
	assert.Equal(t, 0, id.GID, "a user alone switches to its primary group")

	id, err = lookupIdentity("0", "0")
	require.NoError(t, err)
	assert.Equal(t, 0, id.UID)
	assert.Equal(t, 0, id.GID)

	_, err = lookupIdentity("", "no-such-group-gantry")
	assert.ErrorContains(t, err, "group \"no-such-group-gantry\" does not exist")
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	dir := fixtureDir(t)
	text := `
x-tls: &tls
  certificates: [{cert: server.pem, key: server-key.pem}]
  policy: modern
listeners:
  - address: 127.0.0.1:0
    tls:
      <<: *tls
      policy: intermediate
  - address: 127.0.0.1:0
    tls: *tls
routes: [{upstream: web}]
upstreams:
  web: {addresses: ["127.0.0.1:80"]}
`
	_, err := Parse("g.yaml", dir, []byte(text))
	require.Error(t, err, "x-tls is not a Gantry key")
	assert.Contains(t, err.Error(), `g.yaml:2: x-tls: unknown key "x-tls"`)

	text = `
listeners:
  - {name: a, address: "127.0.0.1:0", tls: &tls {certificates: [{cert: server.pem, key: server-key.pem}], policy: modern}}
  - name: b
    address: 127.0.0.1:0
    tls:
      <<: *tls
      policy: intermediate
  - {name: c, address: "127.0.0.1:0", tls: *tls}
routes: [{upstream: web}]
upstreams:
  web: {addresses: ["127.0.0.1:80"]}
`
	c, err := Parse("g.yaml", dir, []byte(text))
	require.NoError(t, err, text)
	require.Len(t, c.Listeners, 3)
	assert.Equal(t, "modern", c.Listeners[0].TLS.Config.Policy)
	assert.Equal(t, "intermediate", c.Listeners[1].TLS.Config.Policy, "an explicit key wins over a merged one")
	assert.Len(t, c.Listeners[1].TLS.Files.Certificates, 1)
	assert.Equal(t, "modern", c.Listeners[2].TLS.Config.Policy)
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// Each alias re-walks a listener with ten certificates: a small file
	// that expands far beyond any real config.
	var b strings.Builder
	b.WriteString("listeners: [&l {address: \"127.0.0.1:0\", tls: {certificates: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("{cert: a, key: b}, ", 10), ", "))
	b.WriteString("]}}")
	b.WriteString(strings.Repeat(", *l", 5000))
	b.WriteString("]\n")
	_, err := Parse("bomb.yaml", t.TempDir(), []byte(b.String()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expands to more than")
}
