package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/config"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

// fuzzSeeds are shapes a config file takes: complete, minimal, and the
// mistakes the strict decoder must name (unknown keys, bad durations, wrong
// types, anchors and aliases, several documents).
var fuzzSeeds = []string{
	`
server:
  limits: {max_header_bytes: 32768, max_body_bytes: 1048576}
  timeouts: {tls_handshake: 5s, keepalive_idle: 2m, shutdown_grace: 1m30s}
  connect: {allow: true, ports: [443, 8443]}
listeners:
  - name: public
    address: 127.0.0.1:0
    tls:
      backend: gostd
      policy: modern
      groups: [X25519, P-256]
      certificates: [{cert: server.pem, key: server-key.pem}]
      alpn: [h2, http/1.1]
      client_auth: {mode: verify-if-given, ca: ca.pem}
      session_tickets: {enabled: true}
routes:
  - {host: example.test, path_prefix: /api/, upstream: api}
  - upstream: web
upstreams:
  api:
    addresses: [127.0.0.1:9001]
    health: {max_fails: 2, eject_for: 30s, check: {path: /healthz, interval: 5s, timeout: 1s, expect_status: 200}}
    tls: {server_name: api.internal, ca: ca.pem, cert: client.pem, key: client-key.pem}
  web: {addresses: [127.0.0.1:9003]}
logging: {level: debug, format: json, redact_headers: [X-Api-Key]}
metrics: {address: 127.0.0.1:9100}
`,
	"listeners:\n  - {name: a, address: 127.0.0.1:0, tls: {certificates: [{cert: server.pem, key: server-key.pem}]}}\nroutes: [{upstream: u}]\nupstreams: {u: {addresses: [127.0.0.1:1]}}\n",
	"server:\n  timeouts:\n    tls_handshake: 0s\n",
	"server:\n  timeouts:\n    tls_handshake: five seconds\n",
	"listeners:\n  - name: a\n    adress: 127.0.0.1:0\n",
	"x: &a [1, 2]\ny: *a\n",
	"a: 1\n---\nb: 2\n",
	"listeners: {}\n",
	"",
}

// FuzzParse feeds the config decoder arbitrary files. The config is trusted
// input, but a crash or an unlocated error on a typo is still a bug, and the
// decoder walks YAML nodes by hand. Whatever the bytes, Parse must return, and
// every error must name the file it is about.
func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(f, err)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	const name = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(name, dir, data)
		if err != nil {
			assert.Nil(t, c)
			assert.True(t, strings.HasPrefix(err.Error(), name), "error does not name the file: %v", err)
			return
		}
		require.NotNil(t, c)
		assert.Equal(t, name, c.File)
	})
}
