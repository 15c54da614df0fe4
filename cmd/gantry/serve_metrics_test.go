package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// syncBuffer is a bytes.Buffer that the serving goroutine writes while the
// test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	listenerLine = regexp.MustCompile(`listener "([^"]+)" on https://(\S+) `)
	metricsLine  = regexp.MustCompile(`metrics on http://(\S+)/metrics`)
)

// TestServeMetrics runs `gantry serve` with metrics.address on port 0 and
// one listener per compiled-in TLS backend, proxies a request through each
// and checks what /metrics and the access log say about it.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "hello from origin\n")
	}))
	defer origin.Close()

	backends := gantrytls.Names()
	var cfg strings.Builder
	cfg.WriteString("listeners:\n")
	for _, b := range backends {
		fmt.Fprintf(&cfg, "  - name: l-%s\n    address: 127.0.0.1:0\n    tls:\n      backend: %s\n"+
			"      certificates: [{cert: server.pem, key: server-key.pem}]\n"+
			"    timeouts: {keepalive_idle: 5s}\n", b, b)
	}
	fmt.Fprintf(&cfg, `routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
server:
  timeouts: {shutdown_grace: 2s}
logging:
  level: warn
  access_log_headers: [X-Trace, Authorization, X-Api-Key]
  redact_headers: [X-Api-Key]
metrics:
  address: 127.0.0.1:0
`, origin.Listener.Addr().String())
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cfg.String()), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"serve", "-c", file}, &stdout, &stderr) }()

	var metricsAddr string
	listeners := map[string]string{}
	require.Eventually(t, func() bool {
		select {
		case code := <-exited:
			exited <- code
			return true
		default:
		}
		out := stdout.String()
		if m := metricsLine.FindStringSubmatch(out); m != nil {
			metricsAddr = m[1]
			for _, l := range listenerLine.FindAllStringSubmatch(out, -1) {
				listeners[l[1]] = l[2]
			}
		}
		return metricsAddr != ""
	}, 20*time.Second, 20*time.Millisecond)
	require.NotEmpty(t, metricsAddr, "serve exited early\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	require.Len(t, listeners, len(backends), stdout.String())
	assert.NotContains(t, stderr.String(), "warning")

	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "localhost"},
			ForceAttemptHTTP2: true,
		},
	}
	defer client.CloseIdleConnections()

	for _, b := range backends {
		req, err := http.NewRequest(http.MethodGet, "https://"+listeners["l-"+b]+"/", nil)
		require.NoError(t, err)
		req.Header.Set("X-Trace", "trace-"+b)
		req.Header.Set("Authorization", "Bearer s3cret-token")
		req.Header.Set("X-Api-Key", "k3y-value")
		resp, err := client.Do(req)
		require.NoError(t, err, "backend %s", b)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "hello from origin\n", string(body))

		resp, err = client.Get("https://" + listeners["l-"+b] + "/missing")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	}

	scrape := func(path string) (int, string) {
		resp, err := http.Get("http://" + metricsAddr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	// The proxy counts a request once its response is sent, which may be
	// just after the client has read it.
	var text string
	require.Eventually(t, func() bool {
		var code int
		code, text = scrape("/metrics")
		return code == http.StatusOK && strings.Count(text, "gantry_requests_total{") >= 2*len(backends)
	}, 10*time.Second, 20*time.Millisecond)
	for _, b := range backends {
		l := "l-" + b
		assert.GreaterOrEqual(t, sample(t, text, `gantry_requests_total{code="2xx",listener="`+l+`",upstream="app"}`), 1.0)
		assert.GreaterOrEqual(t, sample(t, text, `gantry_requests_total{code="4xx",listener="`+l+`",upstream="app"}`), 1.0)
		assert.Regexp(t, `gantry_tls_handshakes_total\{backend="`+b+`",cipher="TLS_[A-Z0-9_]+",listener="`+l+`",result="ok",version="TLS 1\.3"\} [1-9]`, text)
		assert.GreaterOrEqual(t, sample(t, text, `gantry_tls_handshake_seconds_count{backend="`+b+`",listener="`+l+`"}`), 1.0)
		assert.GreaterOrEqual(t, sample(t, text, `gantry_request_seconds_count{listener="`+l+`"}`), 2.0)
		assert.Contains(t, text, `gantry_open_connections{listener="`+l+`"} `)
	}
	assert.Contains(t, text, `gantry_build_info{backends="`+strings.Join(backends, ",")+`"`)
	assert.Contains(t, text, "go_goroutines ")
	assert.NotContains(t, text, "/missing", "paths must never become label values")

	for _, path := range []string{"/", "/metrics/", "/debug/pprof/", "/favicon.ico"} {
		code, _ := scrape(path)
		assert.Equal(t, http.StatusNotFound, code, path)
	}

	// The access log has the listed headers, with credentials redacted.
	require.Eventually(t, func() bool {
		return strings.Count(stdout.String(), `"headers":{`) >= len(backends)
	}, 10*time.Second, 20*time.Millisecond)
	logs := stdout.String()
	for _, b := range backends {
		assert.Contains(t, logs, `"x-trace":"trace-`+b+`"`)
	}
	assert.Contains(t, logs, `"authorization":"[REDACTED]"`)
	assert.Contains(t, logs, `"x-api-key":"[REDACTED]"`)
	assert.NotContains(t, logs, "s3cret-token")
	assert.NotContains(t, logs, "k3y-value")

	client.CloseIdleConnections()
	cancel()
	select {
	case code := <-exited:
		assert.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("gantry serve did not stop after cancellation")
	}
	// Stopped with the proxy: the port no longer answers.
	_, err = net.DialTimeout("tcp", metricsAddr, time.Second)
	assert.Error(t, err, "metrics endpoint still listening after shutdown")
}

// sample is the value of the series whose name and labels are exactly
// series, or -1 when it is absent.
func sample(t *testing.T, text, series string) float64 {
	t.Helper()
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			return v
		}
	}
	return -1
}
