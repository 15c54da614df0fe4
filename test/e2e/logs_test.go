package e2e

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// waitFor polls cond a bounded number of times; it is a wait, not a
// timed assertion: a slow machine only takes longer.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never happened", what)
}

func records(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}

// TestAccessLogReopen is what logrotate does: rename the file, send
// SIGUSR1, and the next records go to a new file of the configured name
// while the renamed one keeps the old ones.
func TestAccessLogReopen(t *testing.T) {
	e := newOpsEnv(t)
	text := strings.Replace(e.config("a"), "logging: {access_log: false, format: text}",
		"logging: {access_log: true, access_log_file: access.log}", 1)
	require.Contains(t, text, "access_log_file")
	e.write(t, text)
	e.serve(t)
	log := filepath.Join(e.dir, "access.log")

	assert.Equal(t, "A", e.get(t))
	waitFor(t, "the first record in access.log", func() bool { return records(log) == 1 })

	rotated := log + ".1"
	require.NoError(t, os.Rename(log, rotated))
	require.NoError(t, syscall.Kill(e.pid(t), syscall.SIGUSR1))
	waitFor(t, "access.log to be created again", func() bool { return records(log) == 0 })

	assert.Equal(t, "A", e.get(t))
	waitFor(t, "the second record in the new access.log", func() bool { return records(log) == 1 })
	assert.Equal(t, 1, records(rotated), "the rotated file keeps the first record and gets nothing more")
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"status":200`)
}

// TestReusePort: two processes with listeners[].reuse_port bind the same
// address and both serve; a third without it is refused the address and
// exits 1.
func TestReusePort(t *testing.T) {
	first := newOpsEnv(t)
	second := newOpsEnv(t)
	second.addr = first.addr
	// The kernel may hand a connection to either process: both serve the
	// first one's certificate, which the client trusts.
	for _, name := range []string{"server.pem", "server-key.pem"} {
		b, err := os.ReadFile(filepath.Join(first.dir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(second.dir, name), b, 0o600))
	}
	withReuse := func(e *opsEnv, on bool) string {
		text := e.config("a")
		if on {
			text = strings.Replace(text, "    address: "+e.addr+"\n", "    address: "+e.addr+"\n    reuse_port: true\n", 1)
			require.Contains(t, text, "reuse_port: true")
		}
		return text
	}
	first.write(t, withReuse(first, true))
	first.serve(t)
	second.write(t, withReuse(second, true))
	second.serve(t)
	for range 8 {
		assert.Equal(t, "A", first.get(t))
	}

	third := newOpsEnv(t)
	third.addr = first.addr
	third.write(t, withReuse(third, false))
	p := start(t, "serve", "-c", third.file)
	assert.Equal(t, 1, p.wait(t))
	assert.Contains(t, p.out(), "address already in use")
}

// TestReloadPicksUpNewCertificate: new certificate files and `gantry
// reload` — new connections get the new certificate, without a restart.
func TestReloadPicksUpNewCertificate(t *testing.T) {
	e := newOpsEnv(t)
	e.write(t, e.config("a"))
	p := e.serve(t)
	serial := func() string {
		// The chain is checked by the other tests; this one only tells
		// two certificates apart.
		c, err := tls.Dial("tcp", e.addr, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}) // #nosec G402 -- only the serial is read
		require.NoError(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	_, err := certs.WriteDevFiles(e.dir, nil, "", true)
	require.NoError(t, err)
	code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	assert.NotEqual(t, before, serial(), "a connection after the reload gets the new certificate")
	assert.Equal(t, e.pid(t), p.cmd.Process.Pid, "the same process serves on")
}

// TestReloadAddsAndRemovesListener: a reload may add a listener, which
// then serves, and remove it again, which stops it, while the listener
// both configs share serves throughout.
func TestReloadAddsAndRemovesListener(t *testing.T) {
	e := newOpsEnv(t)
	one := e.config("a")
	extra := freeAddr(t)
	two := strings.Replace(one, "routes:", `  - name: extra
    address: `+extra+`
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes:`, 1)
	require.Contains(t, two, "name: extra")
	e.write(t, one)
	e.serve(t)
	reload := func(text string) {
		t.Helper()
		e.write(t, text)
		code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
		require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	}
	dialExtra := func() error {
		c, err := tls.Dial("tcp", extra, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	require.Error(t, dialExtra(), "nothing listens on the extra address before the reload")

	reload(two)
	assert.NoError(t, dialExtra(), "the added listener serves after the reload")
	assert.Equal(t, "A", e.get(t))

	reload(one)
	waitFor(t, "the removed listener to stop", func() bool { return dialExtra() != nil })
	assert.Equal(t, "A", e.get(t), "the listener both configs share serves on")
}
