package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// TestCheckKeyPermissions: a key file mounted 0644 fails `gantry check`,
// naming file, line and key, unless server.key_permissions is warn, when
// the check passes and the warning goes to stderr.
func TestCheckKeyPermissions(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	key := filepath.Join(dir, "server-key.pem")
	require.NoError(t, os.Chmod(key, 0o644))

	config := `listeners:
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
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(config), 0o600))
	code, stdout, stderr := runGantry(t, "check", "-c", file)
	assert.Equal(t, 1, code, "stderr: %s", stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, file+":5: listeners[0].tls.certificates[0].key: key file "+key+
		" is readable by group or others (mode 0644): chmod 600 it, or set server.key_permissions: warn")
	assert.NotContains(t, stderr, "PRIVATE KEY")

	require.NoError(t, os.WriteFile(file, []byte(config+"server:\n  key_permissions: warn\n"), 0o600))
	code, stdout, stderr = runGantry(t, "check", "-c", file)
	assert.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Equal(t, "ok: 1 listener, 1 route\n", stdout)
	assert.Equal(t, "warning: "+file+":5: listeners[0].tls.certificates[0].key: key file "+key+
		" is readable by group or others (mode 0644); accepted because server.key_permissions is warn\n", stderr)
	assert.NotContains(t, stderr, "PRIVATE KEY")
	assert.False(t, strings.Contains(stderr, "error"), stderr)

	// gantry serve logs the same warning at warn and serves.
	p := start(t, "serve", "-c", file)
	p.waitLine(t, "listener ")
	want := "listeners[0].tls.certificates[0].key: key file " + key + " is readable by group or others (mode 0644); accepted because server.key_permissions is warn"
	assert.Eventually(t, func() bool { return strings.Contains(p.out(), want) }, 10*time.Second, 20*time.Millisecond, "output:\n%s", p.out())
	assert.Contains(t, p.out(), "WARN")
	assert.NotContains(t, p.out(), "PRIVATE KEY")
}
