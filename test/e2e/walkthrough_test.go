package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// walkthrough returns the shell blocks of README.md marked with
// "<!-- walkthrough: NAME -->", in order, joined into one script.
func walkthrough(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	defer f.Close()
	var script strings.Builder
	marked, in := false, false
	blocks := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		switch {
		case in && line == "```":
			in = false
		case in:
			script.WriteString(line + "\n")
		case strings.TrimSpace(line) == "<!-- walkthrough: "+name+" -->":
			marked = true
		case marked && line == "```sh":
			marked, in = false, true
			blocks++
		}
	}
	require.NoError(t, s.Err())
	require.NotZero(t, blocks, "README.md has no walkthrough %q", name)
	return script.String()
}

// TestMTLSWalkthrough runs README's "mTLS in five minutes" as written, from
// a directory laid out like the repository after `make build`, and checks
// what each step is said to show: the allowed client is served with its
// identity forwarded, the others are refused, and the client revoked on
// disk is refused by the same process.
func TestMTLSWalkthrough(t *testing.T) {
	script := walkthrough(t, "mtls")
	repo := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(repo, "bin"), 0o755))
	require.NoError(t, os.Symlink(gantryBin, filepath.Join(repo, "bin", "gantry")))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	// Its own process group, so whatever it started in the background is
	// stopped even when the script fails before its last line.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	text := string(out)
	require.NoError(t, err, "the walkthrough as written:\n%s", text)

	assert.Contains(t, text, "ok: 1 listener, 1 route", "gantry check passes")
	assert.Equal(t, 1, strings.Count(text, "Hello from the Gantry demo origin."), "one request reached the app:\n%s", text)
	assert.Contains(t, text, "Client-Cert: :MII", "the app sees the client's certificate")
	assert.Contains(t, text, "This response was proxied by Gantry.")
	steps := []string{
		"Hello from the Gantry demo origin.",
		"refused: no client certificate",
		"refused: not in ns/prod",
		"certificates reloaded",
		"refused: revoked",
	}
	at := 0
	for _, step := range steps {
		i := strings.Index(text[at:], step)
		if !assert.GreaterOrEqual(t, i, 0, "%q after the steps before it:\n%s", step, text) {
			break
		}
		at += i + len(step)
	}
	assert.Contains(t, text, "client identity refused", "the log says why")
	assert.Contains(t, text, `"reason":"uri"`)
	assert.NotContains(t, text, "BEGIN CERTIFICATE", "no certificate reaches the log")
}
