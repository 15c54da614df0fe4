package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// TestProcessKeys: pid_file, control_socket and access_log_file resolve
// against the config's directory, and a directory that does not exist is
// reported at its file, line and key.
func TestProcessKeys(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	text := `server:
  pid_file: gantry.pid
  control_socket: ctl.sock
listeners:
  - address: 127.0.0.1:0
    reuse_port: true
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes: [{upstream: app}]
upstreams: {app: {addresses: ["127.0.0.1:9"]}}
logging:
  access_log_file: access.log
`
	c, err := Parse("gantry.yaml", dir, []byte(text))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "gantry.pid"), c.PIDFilePath())
	assert.Equal(t, filepath.Join(dir, "ctl.sock"), c.ControlSocketPath())
	assert.Equal(t, filepath.Join(dir, "access.log"), c.AccessLogPath())
	assert.True(t, c.Listeners[0].ReusePort)

	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	sock, err := ControlSocketOf(file)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "ctl.sock"), sock)

	_, err = Parse("gantry.yaml", dir, []byte(strings.Replace(text, "ctl.sock", "missing/ctl.sock", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gantry.yaml:3: server.control_socket: directory "+filepath.Join(dir, "missing")+" does not exist")
	_, err = Parse("gantry.yaml", dir, []byte(strings.Replace(text, "access_log_file: access.log", "access_log_file: access.log\n  access_log: false", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gantry.yaml:11: logging.access_log_file: a file is named but access_log is false")
}
