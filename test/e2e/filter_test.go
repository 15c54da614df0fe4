package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// filterConfig is a config with the connection filter and the PROXY
// protocol on, around an origin at originAddr. Clients connect from
// 127.0.0.1 (allowed) or 127.0.0.2 (denied): every 127/8 address is the
// loopback interface on Linux, so a test can pick its source.
func filterConfig(originAddr string) string {
	return fmt.Sprintf(`server:
  filter:
    allow: [127.0.0.0/8, "::1"]
    deny: [127.0.0.2]
    max_conns_per_ip: 50
    ipv6_prefix: 64
listeners:
  - name: direct
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      handshake_timeout: 1m
  - name: behind-lb
    address: 127.0.0.1:0
    proxy_protocol:
      enabled: true
      trusted: [127.0.0.1/32]
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      handshake_timeout: 1m
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log: false}
`, originAddr)
}

// TestCheckFilterKeys: the filter and PROXY protocol keys are accepted,
// and a bad CIDR is reported at its file, line and key.
func TestCheckFilterKeys(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	good := filterConfig("127.0.0.1:9")
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(good), 0o600))
	code, stdout, stderr := runGantry(t, "check", "-c", file)
	assert.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Equal(t, "ok: 2 listeners, 1 route\n", stdout)

	tests := []struct{ name, from, to, want string }{
		{"filter allow", "allow: [127.0.0.0/8,", "allow: [127.0.0.0/33,", "gantry.yaml:3: server.filter.allow[0]: \"127.0.0.0/33\" is not a valid CIDR"},
		{"filter deny", "deny: [127.0.0.2]", "deny: [localhost]", "gantry.yaml:4: server.filter.deny[0]: \"localhost\" is neither an IP address nor a CIDR"},
		{"ipv6 prefix", "ipv6_prefix: 64", "ipv6_prefix: 129", "gantry.yaml:6: server.filter.ipv6_prefix: must be a prefix length 1-128"},
		{"trusted", "trusted: [127.0.0.1/32]", "trusted: [10.0.0.0/99]", "gantry.yaml:17: listeners[1].proxy_protocol.trusted[0]: \"10.0.0.0/99\" is not a valid CIDR"},
		{"no trusted", "      trusted: [127.0.0.1/32]\n", "", "gantry.yaml:15: listeners[1].proxy_protocol.trusted: enabled needs the load balancers' addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(good, tt.from, tt.to, 1)
			require.NotEqual(t, good, bad)
			require.NoError(t, os.WriteFile(file, []byte(bad), 0o600))
			code, stdout, stderr := runGantry(t, "check", "-c", file)
			assert.Equal(t, 1, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, strings.Replace(tt.want, "gantry.yaml", file, 1))
		})
	}
}

// TestFilterAndProxyProtocol serves the config through the binary: a
// denied source is closed before any TLS byte is read (the server does not
// wait for a ClientHello, although the handshake timeout is a minute), an
// allowed one is served, and behind the PROXY-protocol listener the
// header's source reaches the origin while an untrusted peer is closed.
func TestFilterAndProxyProtocol(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "xff=%s", r.Header.Get("X-Forwarded-For"))
	}))
	defer origin.Close()
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(filterConfig(origin.Listener.Addr().String())), 0o600))

	p := start(t, "serve", "-c", file)
	listenRe := regexp.MustCompile(`listener "([^"]+)" on https://(\S+) `)
	addrs := map[string]string{}
	for len(addrs) < 2 {
		m := listenRe.FindStringSubmatch(p.waitLine(t, "listener "))
		require.NotNil(t, m)
		addrs[m[1]] = m[2]
	}

	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: "localhost"}

	t.Run("denied source is closed before TLS", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.2", addrs["direct"])
		n, err := readOnce(c)
		assert.Zero(t, n)
		assertClosedNotTimedOut(t, err)
	})
	t.Run("allowed source is served", func(t *testing.T) {
		c := tls.Client(dialFrom(t, "127.0.0.1", addrs["direct"]), tlsConfig)
		assert.Contains(t, get(t, c), "xff=127.0.0.1")
	})
	t.Run("proxy protocol from a trusted balancer", func(t *testing.T) {
		raw := dialFrom(t, "127.0.0.1", addrs["behind-lb"])
		_, err := io.WriteString(raw, "PROXY TCP4 203.0.113.9 127.0.0.1 40000 443\r\n")
		require.NoError(t, err)
		assert.Contains(t, get(t, tls.Client(raw, tlsConfig)), "xff=203.0.113.9")
	})
	t.Run("proxy protocol from an untrusted peer", func(t *testing.T) {
		// 127.0.0.3 passes the filter but is not a trusted balancer.
		c := dialFrom(t, "127.0.0.3", addrs["behind-lb"])
		n, err := readOnce(c)
		assert.Zero(t, n)
		assertClosedNotTimedOut(t, err)
	})

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t), "output:\n%s", p.out())
}

func dialFrom(t *testing.T, source, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readOnce reads with a deadline far below the server's one-minute
// handshake timeout: a server that waits for a ClientHello times the read
// out, one that closed the connection ends it at once.
func readOnce(c net.Conn) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return c.Read(make([]byte, 1))
}

func assertClosedNotTimedOut(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection was kept open waiting for TLS: %v", err)
	}
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "want EOF or reset, got %v", err)
}

// get sends one HTTP/1.1 request over c and returns the response body.
func get(t *testing.T, c *tls.Conn) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	body, err := io.ReadAll(c)
	require.NoError(t, err)
	return string(body)
}
