package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// startPlainOrigin is the app a user puts `gantry proxy` in front of: plain
// HTTP on 127.0.0.1, answering with what it received.
func startPlainOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app: %s %s host=%s\n", r.Method, r.URL.Path, r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tryLine waits for the curl command gantry proxy prints and returns its
// arguments after "curl".
func tryLine(t *testing.T, p *process) []string {
	t.Helper()
	line := p.waitLine(t, "curl ")
	args := strings.Fields(line)
	require.Equal(t, "curl", args[0], "line %q", line)
	return args[1:]
}

// curlExit runs curl and returns its exit code and stdout, for the cases
// where failing is the expected outcome.
func curlExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "30"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

// stopProxy sends SIGTERM and expects a clean exit.
func stopProxy(t *testing.T, p *process) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t), "output:\n%s", p.out())
}

var proxyListenerLine = regexp.MustCompile(`listener "proxy" on https://127\.0\.0\.1:\d+ \(TLS backend (\S+), `)

// TestProxyCommand runs `gantry proxy --from 127.0.0.1:0 --to http://APP`
// as the README shows it, on every backend, and fetches through it with the
// curl line it prints.
func TestProxyCommand(t *testing.T) {
	app := startPlainOrigin(t)
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			p := start(t, "proxy", "--from", "127.0.0.1:0", "--to", app.URL, "--backend", backend)
			m := proxyListenerLine.FindStringSubmatch(p.waitLine(t, "listener "))
			require.NotNil(t, m, "output:\n%s", p.out())
			assert.Equal(t, backend, m[1])
			args := tryLine(t, p)
			require.Len(t, args, 3, "curl line %v", args)
			caFile := args[1]

			body := curl(t, args...)
			assert.Contains(t, body, "app: GET / host=localhost:")
			body = curl(t, "--http1.1", args[0], args[1], args[2]+"hello")
			assert.Contains(t, body, "app: GET /hello ")

			out := p.out()
			assert.Contains(t, out, "client auth none")
			assert.Contains(t, out, `route * / -> upstream "to": `+app.URL)

			stopProxy(t, p)
			_, err := os.Stat(filepath.Dir(caFile))
			assert.True(t, os.IsNotExist(err), "the development certificates directory %s is left behind", filepath.Dir(caFile))
		})
	}
}

// TestProxyCommandMTLS: with --mtls CA, a client without a certificate, or
// with one from another CA, is refused; one issued by CA gets through.
func TestProxyCommandMTLS(t *testing.T) {
	app := startPlainOrigin(t)
	clients := t.TempDir()
	_, err := certs.WriteDevFiles(clients, nil, "alice", false)
	require.NoError(t, err)
	stranger := t.TempDir()
	_, err = certs.WriteDevFiles(stranger, nil, "mallory", false)
	require.NoError(t, err)

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			p := start(t, "proxy", "--from", "127.0.0.1:0", "--to", app.URL, "--backend", backend,
				"--mtls", filepath.Join(clients, "ca.pem"))
			args := tryLine(t, p)
			// curl --cacert DEVCA --cert CLIENT.pem --key CLIENT-KEY.pem URL
			require.Len(t, args, 7, "curl line %v", args)
			assert.Equal(t, []string{"--cert", "CLIENT.pem", "--key", "CLIENT-KEY.pem"}, args[2:6])
			trust, url := args[:2], args[6]
			assert.Contains(t, p.out(), "client auth require-and-verify (CA "+filepath.Join(clients, "ca.pem")+")")

			code, body := curlExit(t, append(trust, url)...)
			assert.NotEqual(t, 0, code, "no client certificate: want refused, got %q", body)
			assert.NotContains(t, body, "app:")

			code, body = curlExit(t, append(trust, "--cert", filepath.Join(stranger, "client.pem"),
				"--key", filepath.Join(stranger, "client-key.pem"), url)...)
			assert.NotEqual(t, 0, code, "certificate from another CA: want refused, got %q", body)
			assert.NotContains(t, body, "app:")

			body = curl(t, append(trust, "--cert", filepath.Join(clients, "client.pem"),
				"--key", filepath.Join(clients, "client-key.pem"), url)...)
			assert.Contains(t, body, "app: GET / ")

			stopProxy(t, p)
		})
	}
}

// TestProxyCommandHTTPS: an https --to is verified, against --to-ca when
// given; without it the app's private CA is not trusted and the proxy
// answers 502 instead of talking to an unverified server.
func TestProxyCommandHTTPS(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	app := startOrigin(t, ca)
	dir := t.TempDir()
	appCA := filepath.Join(dir, "app-ca.pem")
	require.NoError(t, writeFile(appCA, ca.CertPEM()))

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			p := start(t, "proxy", "--from", "127.0.0.1:0", "--to", app.URL, "--to-ca", appCA, "--backend", backend)
			args := tryLine(t, p)
			body := curl(t, args...)
			assert.Contains(t, body, "origin: HTTP/1.1 GET /")
			assert.Contains(t, p.out(), "verified against CA "+appCA)
			stopProxy(t, p)

			p = start(t, "proxy", "--from", "127.0.0.1:0", "--to", app.URL, "--backend", backend)
			args = tryLine(t, p)
			out := curl(t, append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, args...)...)
			assert.Equal(t, "502", out)
			stopProxy(t, p)
		})
	}
}
