package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
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
	"github.com/gantry-proxy/gantry/tls/clienthello"
)

// helloJA4 runs client against a raw TCP listener and returns the JA4 of
// the ClientHello it sends: what Gantry should compute for that client.
func helloJA4(t *testing.T, client func(addr string)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		h, _, err := clienthello.Read(c, 0)
		if err != nil {
			got <- ""
			return
		}
		got <- h.JA4()
	}()
	client(ln.Addr().String())
	ja4 := <-got
	require.NotEmpty(t, ja4, "no ClientHello captured")
	return ja4
}

// goDial handshakes with cfg and sends one request; it returns the body's
// first line or the error.
func goDial(addr string, cfg *tls.Config) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

// sClient runs openssl s_client against addr and returns its output;
// with a request, it sends it and waits for the server to close.
func sClient(t *testing.T, addr, request string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if request != "" {
		args = append(args, "-ign_eof")
	}
	cmd := exec.CommandContext(ctx, "openssl", append([]string{"s_client", "-connect", addr}, args...)...) // #nosec G204 -- test client
	cmd.Stdin = strings.NewReader(request)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// TestClientHelloThroughBinary serves a listener on every backend with an
// SNI allow-list and a JA4 deny-list: allowed names are served, others and
// a missing name get unrecognized_name from Gantry, the access log's ja4
// is the JA4 of the client's own hello, and a Go client whose JA4 is
// denied is closed while curl gets through.
func TestClientHelloThroughBinary(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	origin := startPlainOrigin(t)

	// Two Go clients that differ only in ALPN, so in JA4: one is denied.
	deniedCfg := &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	goCfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	goHello := func(cfg *tls.Config) func(string) {
		return func(addr string) { _, _ = goDial(addr, cfg.Clone()) }
	}
	deniedJA4 := helloJA4(t, goHello(deniedCfg))
	goJA4 := helloJA4(t, goHello(goCfg))
	require.NotEqual(t, deniedJA4, goJA4)
	curlJA4 := helloJA4(t, func(addr string) {
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command("curl", "-s", "--max-time", "10", "--http1.1", "--cacert", files.CA, "--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/") // #nosec G204 -- test client
		_ = cmd.Run()
	})
	const request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
	opensslJA4 := helloJA4(t, func(addr string) { sClient(t, addr, "", "-servername", "localhost") })

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			access := filepath.Join(dir, backend+"-access.log")
			file := filepath.Join(dir, backend+".yaml")
			require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`server:
  filter:
    ja4:
      deny: [%s]
listeners:
  - address: 127.0.0.1:0
    tls:
      backend: %s
      certificates: [{cert: server.pem, key: server-key.pem}]
      sni:
        allow: [localhost, "*.apps.test"]
        missing: refuse
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {level: info, format: json, access_log_file: %q}
metrics: {address: "127.0.0.1:0"}
`, deniedJA4, backend, origin.Listener.Addr().String(), access)), 0o600))
			code, _, stderr := runGantry(t, "check", "-c", file)
			require.Equal(t, 0, code, stderr)

			p := start(t, "serve", "-c", file)
			m := regexp.MustCompile(`on https://(\S+) `).FindStringSubmatch(p.waitLine(t, "listener "))
			require.NotNil(t, m)
			addr := m[1]
			_, port, _ := net.SplitHostPort(addr)
			mm := regexp.MustCompile(`metrics on (http://\S+/metrics)`).FindStringSubmatch(p.waitLine(t, "metrics on "))
			require.NotNil(t, mm)

			// curl and an allowed Go client are served.
			out := curl(t, "--http1.1", "--cacert", files.CA, "https://localhost:"+port+"/")
			assert.NotEmpty(t, out)
			line, err := goDial(addr, goCfg.Clone())
			require.NoError(t, err)
			assert.Contains(t, line, "200")
			assert.Contains(t, sClient(t, addr, request, "-servername", "localhost"), "HTTP/1.1 200")

			// A name outside the list, and no name at all.
			other := &tls.Config{ServerName: "other.example", InsecureSkipVerify: true} // #nosec G402 -- refused before any certificate
			_, err = goDial(addr, other)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unrecognized name")
			assert.Contains(t, sClient(t, addr, "", "-servername", "other.example"), "unrecognized name")
			assert.Contains(t, sClient(t, addr, "", "-noservername"), "unrecognized name")
			assert.NotContains(t, sClient(t, addr, "", "-servername", "x.apps.test"), "unrecognized name")

			// The denied fingerprint is closed without an answer.
			_, err = goDial(addr, deniedCfg.Clone())
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "unrecognized name")

			metrics := curl(t, mm[1])
			for _, series := range []string{
				`gantry_client_hello_refusals_total{listener="127.0.0.1:0",reason="sni_not_allowed"} 2`,
				`gantry_client_hello_refusals_total{listener="127.0.0.1:0",reason="sni_missing"} 1`,
				`gantry_client_hello_refusals_total{listener="127.0.0.1:0",reason="ja4_denied"} 1`,
			} {
				assert.Contains(t, metrics, series)
			}

			require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
			assert.Equal(t, 0, p.wait(t), "output:\n%s", p.out())

			var logged []string
			data, err := os.ReadFile(access)
			require.NoError(t, err)
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
				ja4, _ := rec["ja4"].(string)
				logged = append(logged, ja4)
			}
			assert.Equal(t, []string{curlJA4, goJA4, opensslJA4}, logged, "ja4 of curl, the Go client and openssl s_client")
			t.Logf("%s: logged ja4 curl %s, go %s, openssl %s; denied go %s", backend, logged[0], logged[1], logged[2], deniedJA4)

			output := p.out()
			for _, reason := range []string{`"reason":"sni_not_allowed"`, `"reason":"sni_missing"`, `"reason":"ja4_denied"`} {
				assert.Contains(t, output, reason)
			}
		})
	}
}
