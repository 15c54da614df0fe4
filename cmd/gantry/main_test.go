package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/config"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		stdoutNone bool
	}{
		{name: "no args", args: nil, code: 2, stderr: []string{"Usage: gantry COMMAND", "serve", "check", "backends", "certs", "version"}, stdoutNone: true},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"Usage: gantry COMMAND"}},
		{name: "help for a command", args: []string{"help", "check"}, code: 0, stdout: []string{"gantry check -c FILE", "ok: N listeners"}},
		{name: "unknown", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"gantry " + version, "go1.", "gostd"}},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: []string{"gantry " + version}},
		{name: "version extra arg", args: []string{"version", "x"}, code: 2, stderr: []string{`unexpected argument "x"`}},
		{name: "backends", args: []string{"backends"}, code: 0, stdout: []string{"gostd\n", "library:  Go crypto/tls", "TLS 1.3", "X25519", "TLS_AES_128_GCM_SHA256"}},
		{name: "backends help", args: []string{"backends", "--help"}, code: 0, stdout: []string{"-tags openssl"}},
		{name: "serve help", args: []string{"serve", "-h"}, code: 0, stdout: []string{"SIGTERM", "curl --cacert", "-listen"}},
		{name: "serve bad flag", args: []string{"serve", "--nope"}, code: 2, stderr: []string{"flag provided but not defined: -nope"}},
		{name: "serve listen with file", args: []string{"serve", "-c", "x.yaml", "--listen", ":1"}, code: 2, stderr: []string{"default config only"}},
		{name: "serve print default", args: []string{"serve", "--print-default"}, code: 0, stdout: []string{"listeners:", "{{q .Listen}}"}},
		{name: "check without file", args: []string{"check"}, code: 2, stderr: []string{"-c FILE is required"}},
		{name: "check positional", args: []string{"check", "gantry.yaml"}, code: 2, stderr: []string{`unexpected argument "gantry.yaml"`}},
		{name: "check missing file", args: []string{"check", "-c", "/nonexistent/gantry.yaml"}, code: 1, stderr: []string{"/nonexistent/gantry.yaml"}},
		{name: "certs without dev", args: []string{"certs"}, code: 2, stderr: []string{"missing subcommand: dev"}},
		{name: "certs dev without out", args: []string{"certs", "dev"}, code: 2, stderr: []string{"--out DIR is required"}},
		{name: "certs help", args: []string{"certs", "dev", "--help"}, code: 0, stdout: []string{"never for production", "0600"}},
		{name: "certs ech without public name", args: []string{"certs", "ech"}, code: 2, stderr: []string{"--public-name is required"}},
		{name: "certs ech help", args: []string{"certs", "ech", "--help"}, code: 0, stdout: []string{"ECHCONFIG", "HTTPS record", "--config-id"}},
		{name: "certs ech bad name", args: []string{"certs", "ech", "--public-name", "localhost", "--out", "/nonexistent/x"}, code: 1, stderr: []string{"single label"}},
		{name: "certs ech bad id", args: []string{"certs", "ech", "--public-name", "a.example", "--config-id", "256", "--out", "/nonexistent/x"}, code: 1, stderr: []string{"between 0 and 255"}},
		{name: "backends ech", args: []string{"backends"}, code: 0, stdout: []string{"ech:      server (Encrypted ClientHello"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			assert.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			for _, s := range tt.stdout {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, stderr, s)
			}
			if tt.stdoutNone {
				assert.Empty(t, stdout)
			}
		})
	}
}

func TestCertsDevAndCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	code, stdout, stderr := runCmd(t, "certs", "dev", "--out", dir, "--names", "localhost, proxy.test")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "not for production")
	for _, name := range []string{"ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem"} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.NoError(t, err, name)
	}
	server, err := certs.LoadKeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	require.NoError(t, err)
	assert.Equal(t, []string{"localhost", "proxy.test"}, server.Leaf.DNSNames)

	code, _, stderr = runCmd(t, "certs", "dev", "--out", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "already exists")

	good := `
listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: ca.pem}
routes:
  - path_prefix: /api/
    upstream: api
  - upstream: api
upstreams:
  api: {addresses: ["127.0.0.1:9"]}
`
	goodFile := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(goodFile, []byte(good), 0o600))
	code, stdout, stderr = runCmd(t, "check", "-c", goodFile)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "ok: 1 listener, 2 routes\n", stdout)

	bad := strings.Replace(good, "mode: require-and-verify", "mode: always", 1)
	bad = strings.Replace(bad, "  - upstream: api", "  - upstream: web", 1)
	badFile := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badFile, []byte(bad), 0o600))
	code, stdout, stderr = runCmd(t, "check", "-c", badFile)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, badFile+":6: listeners[0].tls.client_auth.mode: ")
	assert.Contains(t, stderr, badFile+":10: routes[1].upstream: ")
}

func TestDefaultConfigIsValid(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	text, err := renderDefault("127.0.0.1:0", "gostd", "127.0.0.1:9")
	require.NoError(t, err)
	c, err := config.Parse("default.yaml", dir, text)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:0", c.Listeners[0].Addr)
	assert.Equal(t, []string{"127.0.0.1:9"}, c.Upstreams["demo"].Addrs)

	// A flag value cannot inject YAML structure: it stays one string.
	text, err = renderDefault("127.0.0.1:0\"\nmetrics: {address: \"x:1", "gostd", "127.0.0.1:9")
	require.NoError(t, err)
	_, err = config.Parse("default.yaml", dir, text)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listeners[0].address")

	_, err = startDemo("127.0.0.1:0", "gostd; rm")
	assert.ErrorContains(t, err, "invalid backend name")
}

func TestCurlLine(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{"127.0.0.1:8443", "curl --cacert /d/ca.pem https://localhost:8443/"},
		{"[::1]:9443", "curl --cacert /d/ca.pem https://localhost:9443/"},
		{"192.0.2.1:443", "curl --cacert /d/ca.pem https://192.0.2.1:443/"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		require.NoError(t, err)
		assert.Equal(t, tt.want, curlLine("/d/ca.pem", addr))
	}
}

func TestDropPrivilegesNoop(t *testing.T) {
	uid := os.Getuid()
	require.NoError(t, dropPrivileges(config.Identity{UID: -1, GID: -1}))
	assert.Equal(t, uid, os.Getuid())
}
