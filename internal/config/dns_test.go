package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// TestDNSKeys: server.dns reaches the proxy's options, a group may be
// named by an SRV record alone, and bad values are reported at their
// file, line and key.
func TestDNSKeys(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	text := `server:
  dns:
    resolvers: ["127.0.0.1:5353", "[::1]:53"]
    timeout: 500ms
    min_ttl: 2s
    max_ttl: 1m
listeners:
  - address: 127.0.0.1:0
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes: [{upstream: app}]
upstreams:
  app: {srv: _https._tcp.api.internal}
  web: {addresses: ["web.internal:8080", "10.0.0.1:8080"]}
`
	c, err := Parse("gantry.yaml", dir, []byte(text))
	require.NoError(t, err)
	opts := c.Options(nil, nil)
	assert.Equal(t, []string{"127.0.0.1:5353", "[::1]:53"}, opts.DNS.Resolvers)
	assert.Equal(t, 500*time.Millisecond, opts.DNS.Timeout)
	assert.Equal(t, "_https._tcp.api.internal", opts.Upstreams["app"].SRV)

	for _, tc := range []struct{ from, to, want string }{
		{`"127.0.0.1:5353"`, `"dns.internal:53"`, `gantry.yaml:3: server.dns.resolvers[0]: "dns.internal:53" must be an IP address and port`},
		{"timeout: 500ms", "timeout: 0s", "gantry.yaml:4: server.dns.timeout: must be a positive duration"},
		{"min_ttl: 2s", "min_ttl: 2m", "gantry.yaml:5: server.dns.min_ttl: min_ttl (2m0s) must not be above max_ttl (1m0s)"},
		{"{srv: _https._tcp.api.internal}", "{srv: \"_https._tcp.api internal\"}", `gantry.yaml:12: upstreams.app.srv: "_https._tcp.api internal" is not a DNS name`},
		{"{srv: _https._tcp.api.internal}", "{balance: round_robin}", "gantry.yaml:12: upstreams.app.addresses: at least one host:port (or an srv name) is required"},
	} {
		_, err := Parse("gantry.yaml", dir, []byte(strings.Replace(text, tc.from, tc.to, 1)))
		require.Error(t, err, tc.to)
		assert.Contains(t, err.Error(), tc.want)
	}
}
