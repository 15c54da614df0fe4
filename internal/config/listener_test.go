package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy"
)

// smallConfig is a minimal valid config; LISTENER_EXTRA and LOGGING_EXTRA
// mark where the tests below add keys.
const smallConfig = `
server:
  timeouts:
    tls_handshake: 7s
    keepalive_idle: 2m
listeners:
  - name: public
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
LISTENER_EXTRA
routes: [{upstream: web}]
upstreams:
  web: {addresses: ["127.0.0.1:9003"]}
logging:
  level: info
LOGGING_EXTRA
`

func smallWith(listener, logging string) string {
	text := strings.Replace(smallConfig, "LISTENER_EXTRA\n", listener, 1)
	return strings.Replace(text, "LOGGING_EXTRA\n", logging, 1)
}

func TestListenerTimeouts(t *testing.T) {
	dir := fixtureDir(t)
	tests := []struct {
		name      string
		listener  string
		want      proxy.Timeouts // the listener's Timeouts in proxy.Options
		handshake time.Duration  // the backend's ServerConfig.HandshakeTimeout
	}{
		{
			name:      "none: everything inherited, handshake from server",
			want:      proxy.Timeouts{TLSHandshake: 7 * time.Second},
			handshake: 7 * time.Second,
		},
		{
			name: "downstream overrides",
			listener: "    timeouts:\n      tls_handshake: 4s\n      request_header: 2s\n      request_body: 20s\n" +
				"      response_write: 30s\n      keepalive_idle: 5s\n      h2_stream_idle: 15s\n",
			want: proxy.Timeouts{
				TLSHandshake: 4 * time.Second, RequestHeader: 2 * time.Second, RequestBody: 20 * time.Second,
				ResponseWrite: 30 * time.Second, KeepaliveIdle: 5 * time.Second, H2StreamIdle: 15 * time.Second,
			},
			handshake: 4 * time.Second,
		},
		{
			name:      "one override, the rest inherited",
			listener:  "    timeouts: {keepalive_idle: 1s}\n",
			want:      proxy.Timeouts{TLSHandshake: 7 * time.Second, KeepaliveIdle: time.Second},
			handshake: 7 * time.Second,
		},
		{
			name:      "flow form",
			listener:  "    timeouts: {request_header: 3s}\n",
			want:      proxy.Timeouts{TLSHandshake: 7 * time.Second, RequestHeader: 3 * time.Second},
			handshake: 7 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("g.yaml", dir, []byte(smallWith(tt.listener, "")))
			require.NoError(t, err)
			opts := c.Options(nil, nil)
			require.Len(t, opts.Listeners, 1)
			assert.Equal(t, tt.want, opts.Listeners[0].Timeouts)
			assert.Equal(t, tt.handshake, opts.Listeners[0].TLS.Config.HandshakeTimeout)
			// Server-wide values are untouched by a listener override.
			assert.Equal(t, 2*time.Minute, opts.Timeouts.KeepaliveIdle)
			assert.Equal(t, 7*time.Second, opts.Timeouts.TLSHandshake)
			// The proxy accepts what the config produces.
			_, err = proxy.New(opts)
			assert.NoError(t, err)
		})
	}

	// tls.handshake_timeout alone: both the backend and the listener
	// deadline take it.
	text := strings.Replace(smallWith("", ""), "      certificates:", "      handshake_timeout: 3s\n      certificates:", 1)
	c, err := Parse("g.yaml", dir, []byte(text))
	require.NoError(t, err)
	opts := c.Options(nil, nil)
	assert.Equal(t, 3*time.Second, opts.Listeners[0].TLS.Config.HandshakeTimeout)
	assert.Equal(t, 3*time.Second, opts.Listeners[0].Timeouts.TLSHandshake)
}

func TestListenerTimeoutErrors(t *testing.T) {
	dir := fixtureDir(t)
	tests := []struct {
		name     string
		listener string
		key      string
		want     string
	}{
		{"upstream connect", "    timeouts: {upstream_connect: 1s}\n", "listeners[0].timeouts.upstream_connect",
			"upstream timeouts are proxy-wide: set server.timeouts.upstream_connect"},
		{"upstream read", "    timeouts:\n      keepalive_idle: 5s\n      upstream_read: 1s\n", "listeners[0].timeouts.upstream_read",
			"upstream timeouts are proxy-wide: set server.timeouts.upstream_read"},
		{"upstream handshake", "    timeouts: {upstream_tls_handshake: 1s}\n", "listeners[0].timeouts.upstream_tls_handshake",
			"set server.timeouts.upstream_tls_handshake"},
		{"shutdown grace", "    timeouts: {shutdown_grace: 1s}\n", "listeners[0].timeouts.shutdown_grace",
			"shutdown_grace is proxy-wide: set server.timeouts.shutdown_grace"},
		{"zero", "    timeouts: {keepalive_idle: 0s}\n", "listeners[0].timeouts.keepalive_idle", "cannot be turned off"},
		{"negative", "    timeouts: {request_header: -1s}\n", "listeners[0].timeouts.request_header", "must be a positive duration"},
		{"unknown", "    timeouts: {idle: 1s}\n", "listeners[0].timeouts.idle", `unknown key "idle"`},
		{"bad duration", "    timeouts: {request_body: soon}\n", "listeners[0].timeouts.request_body", `invalid duration "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := smallWith(tt.listener, "")
			_, err := Parse("g.yaml", dir, []byte(text))
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce), "error %v is not a *config.Error", err)
			assert.Equal(t, tt.key, ce.Key)
			// The listener's keys come after server.timeouts, which may
			// use the same names: the error points at the last one.
			last := tt.key[strings.LastIndex(tt.key, ".")+1:] + ":"
			wantLine := strings.Count(text[:strings.LastIndex(text, last)], "\n") + 1
			assert.Equal(t, wantLine, ce.Line, "error %q", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("both handshake keys", func(t *testing.T) {
		text := strings.Replace(smallWith("    timeouts: {tls_handshake: 4s}\n", ""),
			"      certificates:", "      handshake_timeout: 3s\n      certificates:", 1)
		_, err := Parse("g.yaml", dir, []byte(text))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "listeners[0].timeouts.tls_handshake: both this and tls.handshake_timeout")
	})
}

func TestAccessLogHeaders(t *testing.T) {
	dir := fixtureDir(t)
	c, err := Parse("g.yaml", dir, []byte(smallWith("",
		"  access_log_headers: [User-Agent, Authorization, X-Api-Key]\n  redact_headers: [X-Api-Key]\n")))
	require.NoError(t, err)
	var access bytes.Buffer
	opts := c.Options(nil, &access)
	assert.Equal(t, []string{"User-Agent", "Authorization", "X-Api-Key"}, opts.AccessLog.Headers)
	assert.Equal(t, []string{"X-Api-Key"}, opts.AccessLog.RedactHeaders)
	assert.Same(t, &access, opts.AccessLog.Writer)

	// The options are a copy: changing them leaves the config alone.
	opts.AccessLog.Headers[0] = "X-Changed"
	assert.Equal(t, "User-Agent", c.Logging.AccessLogHeaders[0])

	tests := []struct {
		name    string
		logging string
		key     string
		want    string
	}{
		{"invalid name", "  access_log_headers: [\"X Bad\"]\n", "logging.access_log_headers[0]", `"X Bad" is not a valid header name`},
		{"empty name", "  access_log_headers: [\"\"]\n", "logging.access_log_headers[0]", "not a valid header name"},
		{"duplicate", "  access_log_headers: [X-Id, x-id]\n", "logging.access_log_headers[1]", "already listed at logging.access_log_headers[0]"},
		{"access log off", "  access_log: false\n  access_log_headers: [X-Id]\n", "logging.access_log_headers", "access_log is false"},
		{"not a list", "  access_log_headers: X-Id\n", "logging.access_log_headers", "want a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("g.yaml", dir, []byte(smallWith("", tt.logging)))
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce), "error %v is not a *config.Error", err)
			assert.Equal(t, tt.key, ce.Key)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestMetricsAddress(t *testing.T) {
	dir := fixtureDir(t)
	tests := []struct {
		name, addr, want string
	}{
		{"port zero picks a free port", "127.0.0.1:0", ""},
		{"fixed port", "127.0.0.1:9100", ""},
		{"all interfaces", ":9100", ""},
		{"not host:port", "localhost", "is not host:port"},
		{"bad port", "127.0.0.1:99999", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := smallWith("", "") + "metrics:\n  address: \"" + tt.addr + "\"\n"
			c, err := Parse("g.yaml", dir, []byte(text))
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.addr, c.Metrics.Address)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "metrics.address: ")
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("same address as a listener", func(t *testing.T) {
		text := strings.Replace(smallWith("", ""), "address: 127.0.0.1:0", "address: 127.0.0.1:8443", 1) +
			"metrics:\n  address: \"127.0.0.1:8443\"\n"
		_, err := Parse("g.yaml", dir, []byte(text))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "metrics.address: address 127.0.0.1:8443 is already used by listeners[0]")
	})
}
