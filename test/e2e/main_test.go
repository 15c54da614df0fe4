package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// gantryBin is the binary built once for the whole package, with the same
// backend tags as this test binary.
var gantryBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gantry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gantryBin = filepath.Join(dir, "gantry")
	if err := buildGantry(gantryBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// buildTags are the tags that compile in the backends this test binary
// has, so the binary under test matches it.
func buildTags() string {
	var tags []string
	for _, name := range gantrytls.Names() {
		switch name {
		case "openssl", "boringssl":
			tags = append(tags, name)
		}
	}
	return strings.Join(tags, ",")
}

func buildGantry(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"build", "-o", out}
	if tags := buildTags(); tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "github.com/gantry-proxy/gantry/cmd/gantry")
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// process is a running gantry with its output read line by line.
type process struct {
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	output strings.Builder // stdout and stderr, for failure messages
	done   chan struct{}
	err    error
}

// start runs the built gantry with args; it is killed at test end if still
// running.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p := &process{
		cmd:   exec.CommandContext(ctx, gantryBin, args...),
		lines: make(chan string, 256),
		done:  make(chan struct{}),
	}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.output.Write(b)
	})
	require.NoError(t, p.cmd.Start())
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			p.mu.Lock()
			p.output.WriteString(s.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- s.Text():
			default: // nobody is waiting for more lines; keep draining
			}
		}
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// waitLine returns the first stdout line containing substr.
func (p *process) waitLine(t *testing.T, substr string) string {
	t.Helper()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("gantry exited before printing %q; output:\n%s", substr, p.out())
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-timer.C:
			t.Fatalf("gantry did not print %q within a minute; output:\n%s", substr, p.out())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("gantry did not exit within a minute; output:\n%s", p.out())
	}
	if p.cmd.ProcessState == nil {
		t.Fatalf("gantry did not run: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *process) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

var _ io.Writer = writerFunc(nil)

// curl runs curl with args and returns stdout; a non-zero exit fails the
// test with curl's stderr.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{"-sS", "--max-time", "30"}, args...)
	cmd := exec.CommandContext(ctx, "curl", full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "curl %s: %s", strings.Join(full, " "), stderr.String())
	return string(out)
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
