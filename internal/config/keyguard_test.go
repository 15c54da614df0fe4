package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyPermissionsRefused(t *testing.T) {
	dir := fixtureDir(t)
	serverKey := filepath.Join(dir, "server-key.pem")
	clientKey := filepath.Join(dir, "client-key.pem")
	require.NoError(t, os.Chmod(serverKey, 0o644))
	require.NoError(t, os.Chmod(clientKey, 0o640))

	_, err := Parse("gantry.yaml", dir, []byte(goodConfig))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, fmt.Sprintf("gantry.yaml:%d: listeners[0].tls.certificates[0].key: key file %s is readable by group or others (mode 0644): chmod 600 it, or set server.key_permissions: warn",
		lineOf(goodConfig, "key: server-key.pem"), serverKey))
	assert.Contains(t, msg, fmt.Sprintf("gantry.yaml:%d: upstreams.api.tls.key: key file %s is readable by group or others (mode 0640)",
		lineOf(goodConfig, "key: client-key.pem"), clientKey))
	assert.NotContains(t, msg, "PRIVATE KEY")

	explicit := strings.Replace(goodConfig, "  user: \"\"\n", "  user: \"\"\n  key_permissions: refuse\n", 1)
	_, err = Parse("gantry.yaml", dir, []byte(explicit))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listeners[0].tls.certificates[0].key: key file")
}

func TestKeyPermissionsWarn(t *testing.T) {
	dir := fixtureDir(t)
	serverKey := filepath.Join(dir, "server-key.pem")
	require.NoError(t, os.Chmod(serverKey, 0o644))
	text := strings.Replace(goodConfig, "  user: \"\"\n", "  user: \"\"\n  key_permissions: warn\n", 1)

	c, err := Parse("gantry.yaml", dir, []byte(text))
	require.NoError(t, err)
	require.Len(t, c.ServerTLS(0).Certificates, 1, "the key is loaded")
	assert.Equal(t, []string{fmt.Sprintf("gantry.yaml:%d: listeners[0].tls.certificates[0].key: key file %s is readable by group or others (mode 0644); accepted because server.key_permissions is warn",
		lineOf(text, "key: server-key.pem"), serverKey)}, c.Warnings())

	require.NoError(t, os.Chmod(serverKey, 0o600))
	c, err = Parse("gantry.yaml", dir, []byte(text))
	require.NoError(t, err)
	assert.Empty(t, c.Warnings())
}

func TestKeyPermissionsUnknown(t *testing.T) {
	dir := fixtureDir(t)
	text := strings.Replace(goodConfig, "  user: \"\"\n", "  user: \"\"\n  key_permissions: ignore\n", 1)
	_, err := Parse("gantry.yaml", dir, []byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("gantry.yaml:%d: server.key_permissions: unknown value \"ignore\" (want refuse or warn)", lineOf(text, "key_permissions")))
}

// TestKeyOwnedByServerUser: root starts Gantry and drops to server.user,
// so keys owned by that user are accepted, and another user's are not.
func TestKeyOwnedByServerUser(t *testing.T) {
	require.Zero(t, os.Geteuid(), "this test chowns key files and must run as root (CI does)")
	dir := fixtureDir(t)
	serverKey := filepath.Join(dir, "server-key.pem")
	require.NoError(t, os.Chown(serverKey, 65534, 65534))

	_, err := Parse("gantry.yaml", dir, []byte(goodConfig))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("listeners[0].tls.certificates[0].key: key file %s is owned by uid 65534, not by root or the user Gantry runs as (uid 0): chown it", serverKey))

	text := strings.Replace(goodConfig, "  user: \"\"\n", "  user: \"65534\"\n", 1)
	c, err := Parse("gantry.yaml", dir, []byte(text))
	require.NoError(t, err)
	assert.Empty(t, c.Warnings())
}
