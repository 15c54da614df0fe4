package metrics

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/mtls"
)

// scrape fetches the handler's exposition text as a Prometheus server would.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// assertSeries checks that text holds the sample line want, and on failure
// shows only Gantry's own series rather than the whole runtime dump.
func assertSeries(t *testing.T, text, want string) {
	t.Helper()
	for line := range strings.Lines(text) {
		if strings.TrimSuffix(line, "\n") == want {
			return
		}
	}
	var ours []string
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "gantry_") {
			ours = append(ours, strings.TrimSuffix(line, "\n"))
		}
	}
	assert.Fail(t, "series missing", "want %s\nhave:\n%s", want, strings.Join(ours, "\n"))
}

// timeoutErr is a net.Error that timed out, as a deadline on a raw conn
// produces.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestHandshake(t *testing.T) {
	m := New(Build{Version: "1.2.3", Backends: []string{"gostd"}})
	m.Handshake("public", "gostd", stdtls.VersionTLS13, stdtls.TLS_AES_128_GCM_SHA256, 3*time.Millisecond, nil)
	m.Handshake("public", "gostd", stdtls.VersionTLS13, stdtls.TLS_AES_128_GCM_SHA256, 4*time.Millisecond, nil)
	m.Handshake("public", "openssl", stdtls.VersionTLS12, stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, time.Millisecond, nil)
	// A failed handshake may leave a partly negotiated state behind; it
	// must not leak into the labels.
	m.Handshake("public", "gostd", stdtls.VersionTLS12, 0x1301, time.Millisecond, errors.New("tls: client offered only unsupported versions: [301]"))
	m.Handshake("public", "gostd", 0, 0, 10*time.Second, fmt.Errorf("handshake: %w", context.DeadlineExceeded))
	m.Handshake("public", "gostd", 0, 0, 10*time.Second, fmt.Errorf("read: %w", os.ErrDeadlineExceeded))
	m.Handshake("public", "gostd", 0, 0, 10*time.Second, timeoutErr{})

	text := scrape(t, m)
	for _, want := range []string{
		`gantry_tls_handshakes_total{backend="gostd",cipher="TLS_AES_128_GCM_SHA256",listener="public",result="ok",version="TLS 1.3"} 2`,
		`gantry_tls_handshakes_total{backend="openssl",cipher="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",listener="public",result="ok",version="TLS 1.2"} 1`,
		`gantry_tls_handshakes_total{backend="gostd",cipher="",listener="public",result="error",version=""} 1`,
		`gantry_tls_handshakes_total{backend="gostd",cipher="",listener="public",result="timeout",version=""} 3`,
		`gantry_tls_handshake_seconds_count{backend="gostd",listener="public"} 6`,
		`gantry_tls_handshake_seconds_bucket{backend="gostd",listener="public",le="0.005"} 3`,
		`gantry_tls_handshake_seconds_bucket{backend="gostd",listener="public",le="10"} 6`,
		`gantry_tls_handshake_seconds_count{backend="openssl",listener="public"} 1`,
	} {
		assertSeries(t, text, want)
	}
	assert.NotContains(t, text, "unsupported versions", "error text must never become a label")
}

func TestRequest(t *testing.T) {
	m := New(Build{})
	for _, tt := range []struct {
		status int
		n      int
	}{{200, 3}, {204, 1}, {101, 1}, {302, 1}, {404, 2}, {502, 1}, {0, 1}, {999, 1}} {
		for range tt.n {
			m.Request("public", "api", tt.status, 20*time.Millisecond)
		}
	}
	m.Request("public", "", 431, time.Millisecond)

	text := scrape(t, m)
	for _, want := range []string{
		`gantry_requests_total{code="1xx",listener="public",upstream="api"} 1`,
		`gantry_requests_total{code="2xx",listener="public",upstream="api"} 4`,
		`gantry_requests_total{code="3xx",listener="public",upstream="api"} 1`,
		`gantry_requests_total{code="4xx",listener="public",upstream="api"} 2`,
		`gantry_requests_total{code="5xx",listener="public",upstream="api"} 1`,
		`gantry_requests_total{code="other",listener="public",upstream="api"} 2`,
		`gantry_requests_total{code="4xx",listener="public",upstream=""} 1`,
		`gantry_request_seconds_count{listener="public"} 12`,
		`gantry_request_seconds_bucket{listener="public",le="0.001"} 1`,
		`gantry_request_seconds_bucket{listener="public",le="0.025"} 12`,
	} {
		assertSeries(t, text, want)
	}
	assert.NotContains(t, text, `code="200"`)
}

func TestClientIdentityRefused(t *testing.T) {
	m := New(Build{})
	m.ClientIdentityRefused("public", "listener", mtls.ReasonURI)
	m.ClientIdentityRefused("public", "listener", mtls.ReasonURI)
	m.ClientIdentityRefused("public", "route", mtls.ReasonNoCertificate)
	m.ClientIdentityRefused("public", "route", mtls.Reason("CN=evil"))
	text := scrape(t, m)
	for _, want := range []string{
		`gantry_client_identity_refusals_total{level="listener",listener="public",reason="uri"} 2`,
		`gantry_client_identity_refusals_total{level="route",listener="public",reason="no_certificate"} 1`,
		`gantry_client_identity_refusals_total{level="route",listener="public",reason="other"} 1`,
	} {
		assertSeries(t, text, want)
	}
}

func TestCipherSuiteName(t *testing.T) {
	for _, s := range append(stdtls.CipherSuites(), stdtls.InsecureCipherSuites()...) {
		assert.Equal(t, stdtls.CipherSuiteName(s.ID), cipherSuiteName(s.ID))
	}
	assert.Equal(t, "TLS_CHACHA20_POLY1305_SHA256", cipherSuiteName(0x1303))
	assert.Equal(t, "0xFFFF", cipherSuiteName(0xffff))
}

func TestStatusClass(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{100, "1xx"}, {199, "1xx"}, {200, "2xx"}, {299, "2xx"}, {301, "3xx"},
		{400, "4xx"}, {499, "4xx"}, {500, "5xx"}, {599, "5xx"},
		{0, "other"}, {-1, "other"}, {99, "other"}, {600, "other"}, {1 << 30, "other"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, statusClass(tt.status), "status %d", tt.status)
	}
}

func TestUpstreamErrorAndConnections(t *testing.T) {
	m := New(Build{})
	m.UpstreamError("api", "10.0.0.1:8443", errors.New("dial tcp 10.0.0.1:8443: connect: connection refused"))
	m.UpstreamError("api", "10.0.0.1:8443", errors.New("upstream timeout"))
	m.UpstreamError("web", "127.0.0.1:8080", nil)
	m.ConnOpen("public", 1)
	m.ConnOpen("public", 1)
	m.ConnOpen("public", 1)
	m.ConnOpen("public", -1)
	m.ConnOpen("admin", 1)
	m.ConnOpen("admin", -1)

	text := scrape(t, m)
	for _, want := range []string{
		`gantry_upstream_errors_total{addr="10.0.0.1:8443",group="api"} 2`,
		`gantry_upstream_errors_total{addr="127.0.0.1:8080",group="web"} 1`,
		`gantry_open_connections{listener="public"} 2`,
		`gantry_open_connections{listener="admin"} 0`,
	} {
		assertSeries(t, text, want)
	}
	assert.NotContains(t, text, "connection refused")
}

func TestDNSResolution(t *testing.T) {
	m := New(Build{})
	m.DNSResolution("api", "changed")
	m.DNSResolution("api", "ok")
	m.DNSResolution("api", "ok")
	m.DNSResolution("api", "no such result") // outside the set: counted as error
	m.DNSResolution("web", "empty")
	text := scrape(t, m)
	for _, want := range []string{
		`gantry_dns_resolutions_total{group="api",result="changed"} 1`,
		`gantry_dns_resolutions_total{group="api",result="ok"} 2`,
		`gantry_dns_resolutions_total{group="api",result="error"} 1`,
		`gantry_dns_resolutions_total{group="web",result="empty"} 1`,
	} {
		assertSeries(t, text, want)
	}
}

func TestBuildInfoAndRuntime(t *testing.T) {
	m := New(Build{Version: "0.9.0", Backends: []string{"gostd", "openssl"}})
	text := scrape(t, m)
	assert.Regexp(t, `gantry_build_info\{backends="gostd,openssl",go="go1\.[^"]+",version="0\.9\.0"\} 1\n`, text)
	assert.Contains(t, text, "go_goroutines ")
	assert.Contains(t, text, "process_open_fds ")
	// Nothing recorded yet: a vector has no series until first used.
	assert.NotContains(t, text, "gantry_requests_total{")
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(Build{}), New(Build{})
	a.Request("one", "up", 200, time.Millisecond)
	assertSeries(t, scrape(t, a), `gantry_requests_total{code="2xx",listener="one",upstream="up"} 1`)
	assert.NotContains(t, scrape(t, b), `listener="one"`)
	require.NotSame(t, a.Registry(), b.Registry())
}

func TestConcurrentUse(t *testing.T) {
	m := New(Build{})
	const workers, each = 8, 200
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				m.ConnOpen("l", 1)
				m.Handshake("l", "gostd", stdtls.VersionTLS13, stdtls.TLS_AES_256_GCM_SHA384, time.Millisecond, nil)
				m.Request("l", "u", 200, time.Millisecond)
				m.ConnOpen("l", -1)
			}
		}()
	}
	for range workers {
		<-done
	}
	text := scrape(t, m)
	assertSeries(t, text, fmt.Sprintf(`gantry_requests_total{code="2xx",listener="l",upstream="u"} %d`, workers*each))
	assertSeries(t, text, `gantry_open_connections{listener="l"} 0`)
	assertSeries(t, text, fmt.Sprintf(`gantry_tls_handshakes_total{backend="gostd",cipher="TLS_AES_256_GCM_SHA384",listener="l",result="ok",version="TLS 1.3"} %d`, workers*each))
}
