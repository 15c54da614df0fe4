package e2e

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// runGantry runs the built binary to completion.
func runGantry(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gantryBin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("run gantry %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	absent := "boringssl"
	if _, err := gantrytls.Lookup("openssl"); err != nil {
		absent = "openssl"
	}

	good := `listeners:
  - name: public
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes:
  - upstream: app
upstreams:
  app:
    addresses: [127.0.0.1:9]
`
	tests := []struct {
		name     string
		text     string
		code     int
		stdout   string
		stderrIn []string
	}{
		{name: "good", text: good, code: 0, stdout: "ok: 1 listener, 1 route\n"},
		{
			name: "unknown key", text: strings.Replace(good, "    address:", "    adress:", 1), code: 1,
			stderrIn: []string{"bad.yaml:3: listeners[0].adress: unknown key \"adress\""},
		},
		{
			name: "bad duration", text: good + "server:\n  timeouts:\n    keepalive_idle: forever\n", code: 1,
			stderrIn: []string{"bad.yaml:13: server.timeouts.keepalive_idle: invalid duration \"forever\""},
		},
		{
			name: "missing backend", text: strings.Replace(good, "    tls:\n", "    tls:\n      backend: "+absent+"\n", 1), code: 1,
			stderrIn: []string{"bad.yaml:5: listeners[0].tls.backend:", "build with -tags " + absent},
		},
		{
			name: "missing key file", text: strings.Replace(good, "server-key.pem", "gone.pem", 1), code: 1,
			stderrIn: []string{"bad.yaml:5: listeners[0].tls.certificates[0].key: file ", "gone.pem does not exist"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "bad.yaml")
			if tt.code == 0 {
				file = filepath.Join(dir, "good.yaml")
			}
			require.NoError(t, os.WriteFile(file, []byte(tt.text), 0o600))
			code, stdout, stderr := runGantry(t, "check", "-c", file)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr)
			if tt.code == 0 {
				assert.Equal(t, tt.stdout, stdout)
			} else {
				assert.Empty(t, stdout)
			}
			for _, s := range tt.stderrIn {
				assert.Contains(t, stderr, strings.ReplaceAll(s, "bad.yaml", file))
			}
		})
	}
}

// TestServeDefault runs `gantry serve` with no config, as a user following
// the README would, runs the curl command it prints, then stops it with
// SIGTERM. It listens on a free port rather than 8443 so that a developer's
// own `make run` cannot collide with it.
func TestServeDefault(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			p := start(t, "serve", "--listen", "127.0.0.1:0", "--backend", backend)
			line := p.waitLine(t, "curl --cacert ")
			args := strings.Fields(line)
			require.Equal(t, "curl", args[0], "line %q", line)
			require.Len(t, args, 4, "line %q", line)
			caFile := args[2]

			body := curl(t, args[1:]...)
			assert.Contains(t, body, "proxied by Gantry")
			assert.Contains(t, body, "GET / HTTP/")

			body = curl(t, append([]string{"--http1.1"}, args[1:]...)...)
			assert.Contains(t, body, "proxied by Gantry")

			require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
			assert.Equal(t, 0, p.wait(t), "output:\n%s", p.out())
			assert.Contains(t, p.out(), "tls_backend="+backend)
			_, err := os.Stat(filepath.Dir(caFile))
			assert.True(t, os.IsNotExist(err), "the development certificates directory %s is left behind", filepath.Dir(caFile))
		})
	}
}

// TestPrivilegeDrop serves a config with server.user set. As root (CI), the
// serving process must end up as that user; otherwise switching must fail
// and gantry must refuse to serve rather than run with the wrong identity.
func TestPrivilegeDrop(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	config := `server:
  user: nobody
listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: app}]
upstreams:
  app: {addresses: ["127.0.0.1:9"]}
`
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(config), 0o600))

	p := start(t, "serve", "-c", file)
	if os.Geteuid() != 0 {
		assert.Equal(t, 1, p.wait(t))
		assert.Contains(t, p.out(), "drop privileges")
		return
	}
	line := p.waitLine(t, "listener ")
	assert.Contains(t, line, "https://127.0.0.1:")
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	require.NoError(t, err)
	var uidLine, gidLine string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") {
			uidLine = l
		}
		if strings.HasPrefix(l, "Gid:") {
			gidLine = l
		}
	}
	nobody, err := user.Lookup("nobody")
	require.NoError(t, err)
	// real, effective, saved and filesystem ids all switched
	u, g := nobody.Uid, nobody.Gid
	assert.Equal(t, []string{"Uid:", u, u, u, u}, strings.Fields(uidLine))
	assert.Equal(t, []string{"Gid:", g, g, g, g}, strings.Fields(gidLine))

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t), "output:\n%s", p.out())
}
