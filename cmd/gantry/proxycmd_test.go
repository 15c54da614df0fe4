package main

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/config"
)

func TestParseTo(t *testing.T) {
	tests := []struct {
		in      string
		addr    string
		tls     bool
		errPart string
	}{
		{in: "http://127.0.0.1:3000", addr: "127.0.0.1:3000"},
		{in: "http://app.internal", addr: "app.internal:80"},
		{in: "https://app.internal/", addr: "app.internal:443", tls: true},
		{in: "https://[::1]:8443", addr: "[::1]:8443", tls: true},
		{in: "127.0.0.1:3000", errPart: "want http://"},
		{in: "ftp://x", errPart: "want http://"},
		{in: "http://", errPart: "no host"},
		{in: "http://x/api", errPart: "only scheme, host and port"},
		{in: "http://x/?a=1", errPart: "only scheme, host and port"},
		{in: "http://u:p@x", errPart: "only scheme, host and port"},
		{in: "http://x:0", errPart: "bad port"},
		{in: "http://x:99999", errPart: "bad port"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addr, useTLS, err := parseTo(tt.in)
			if tt.errPart != "" {
				assert.ErrorContains(t, err, tt.errPart)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.addr, addr)
			assert.Equal(t, tt.tls, useTLS)
		})
	}
}

func TestProxyUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string
		stderr  string
		noCheck bool
	}{
		{name: "help", args: []string{"--help"}, code: 0, stdout: "gantry proxy --from 127.0.0.1:8443 --to http://127.0.0.1:3000"},
		{name: "help lists defaults", args: []string{"-h"}, code: 0, stdout: `(default "127.0.0.1:8443")`},
		{name: "no --to", args: nil, code: 2, stderr: "--to URL is required"},
		{name: "cert without key", args: []string{"--to", "http://x", "--cert", "a.pem"}, code: 2, stderr: "--cert and --key go together"},
		{name: "to-ca on http", args: []string{"--to", "http://x", "--to-ca", "ca.pem"}, code: 2, stderr: "--to-ca applies to an https --to only"},
		{name: "positional", args: []string{"--to", "http://x", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		// Checked by config.Parse, so the message is the config's own.
		{name: "unknown backend", args: []string{"--to", "http://x", "--backend", "nope"}, code: 1, stderr: "listeners[0].tls.backend"},
		{name: "missing mtls CA", args: []string{"--to", "http://x", "--mtls", "/nonexistent/ca.pem"}, code: 1, stderr: "/nonexistent/ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"proxy"}, tt.args...)...)
			assert.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stdout, tt.stdout)
			assert.Contains(t, stderr, tt.stderr)
		})
	}
}

// TestProxyPrintConfig checks that --print-config prints a config that
// `gantry serve -c` would accept and that says what the flags asked for.
func TestProxyPrintConfig(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)

	code, stdout, stderr := runCmd(t, "proxy", "--from", "127.0.0.1:0", "--to", "https://app.internal:8443",
		"--to-ca", files.CA, "--cert", files.ServerCert, "--key", files.ServerKey, "--mtls", files.CA, "--print-config")
	require.Equal(t, 0, code, stderr)

	c, err := config.Parse("printed.yaml", t.TempDir(), []byte(stdout))
	require.NoError(t, err, stdout)
	l := c.Listeners[0]
	assert.Equal(t, "127.0.0.1:0", l.Addr)
	assert.Equal(t, "require-and-verify", l.TLS.Config.ClientAuth.String())
	assert.Equal(t, files.CA, l.TLS.Files.ClientAuth.CA)
	assert.Equal(t, files.ServerCert, l.TLS.Files.Certificates[0].Cert)
	up := c.Upstreams[c.Routes[0].Upstream]
	require.NotNil(t, up.TLS)
	assert.Equal(t, []string{"app.internal:8443"}, up.Addrs)
	assert.Equal(t, files.CA, up.TLS.Files.CA)
	assert.False(t, up.TLS.Config.DisableVerifyCert)
}

// TestProxyConfigRelativeFiles: names given relative to the working
// directory are made absolute, so the printed config can be served from
// anywhere.
func TestProxyConfigRelativeFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	t.Chdir(dir)
	pf := proxyFlags{From: "127.0.0.1:0", To: "http://127.0.0.1:9", Backend: "gostd", Cert: "server.pem", Key: "server-key.pem"}
	s, err := pf.prepare()
	require.NoError(t, err)
	defer s.close()
	assert.Equal(t, filepath.Join(dir, "server.pem"), s.config.Listeners[0].TLS.Files.Certificates[0].Cert)
	assert.Nil(t, s.dev)
}

// TestProxyConfigNoInjection: a flag value stays one YAML string whatever
// it holds.
func TestProxyConfigNoInjection(t *testing.T) {
	pf := proxyFlags{From: "127.0.0.1:0\"\nmetrics: {address: \"x:1", To: "http://127.0.0.1:9", Backend: "gostd"}
	_, err := pf.prepare()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listeners[0].address")
}

func TestProxyCurlLine(t *testing.T) {
	pf := proxyFlags{From: "127.0.0.1:0", To: "http://127.0.0.1:9", Backend: "gostd"}
	s, err := pf.prepare()
	require.NoError(t, err)
	defer s.close()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}
	assert.Equal(t, "curl --cacert "+s.dev.CA+" https://localhost:8443/", s.curl(addr))

	pf.MTLS = s.dev.CA
	m, err := pf.prepare()
	require.NoError(t, err)
	defer m.close()
	assert.Contains(t, m.curl(addr), " --cert CLIENT.pem --key CLIENT-KEY.pem https://localhost:8443/")
}

func TestDevNames(t *testing.T) {
	assert.Equal(t, certs.DefaultServerNames, devNames("127.0.0.1:8443"))
	assert.Equal(t, certs.DefaultServerNames, devNames(":8443"))
	assert.Equal(t, append(append([]string(nil), certs.DefaultServerNames...), "myhost"), devNames("myhost:8443"))
}

// TestStartupBlock checks the block printed once the listeners are bound:
// the first line keeps the form scripts parse, the rest says backend
// library, policy, client auth and where each route goes.
func TestStartupBlock(t *testing.T) {
	pf := proxyFlags{From: "127.0.0.1:0", To: "https://127.0.0.1:9443", Backend: "gostd"}
	s, err := pf.prepare()
	require.NoError(t, err)
	defer s.close()
	var out bytes.Buffer
	printStartup(&out, s.config, []net.Addr{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	assert.Regexp(t, `^gantry \S+: listener "proxy" on https://127\.0\.0\.1:8443 \(TLS backend gostd, Go crypto/tls \(go1\.`, lines[0])
	assert.Equal(t, "  policy intermediate, ALPN h2,http/1.1, client auth none", lines[1])
	assert.Equal(t, `  route * / -> upstream "to": https://127.0.0.1:9443 (TLS backend gostd, verified against system roots)`, lines[2])
	assert.Equal(t, 1, strings.Count(out.String(), "listener "))
}
