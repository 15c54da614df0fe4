package certs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// nobody is a uid that is neither root nor the test's.
const nobody = 65534

// requireRoot fails a test that needs to chown files to another user:
// CI runs the tests as root, so a skip would hide the case.
func requireRoot(t *testing.T) {
	t.Helper()
	require.Zero(t, os.Geteuid(), "this test chowns a key file to uid %d and must run as root (CI does)", nobody)
}

// noKeyMaterial checks that no PEM key or ticket key leaked into err.
func noKeyMaterial(t *testing.T, err error, ticket []byte) {
	t.Helper()
	if err == nil {
		return
	}
	assert.NotContains(t, err.Error(), "PRIVATE KEY")
	assert.False(t, bytes.Contains([]byte(err.Error()), ticket), "ticket key in %q", err)
}

func TestKeyGuardModes(t *testing.T) {
	f := newFixture(t)
	_, kp := f.server("srv")
	ticketKey := bytes.Repeat([]byte{'k'}, 32)
	ticket := f.write("ticket.key", ticketKey)
	files := ServerFiles{Certificates: []KeyPair{kp}, SessionTickets: TicketFiles{KeyFiles: []string{ticket}}}

	for _, mode := range []os.FileMode{0o600, 0o400} {
		require.NoError(t, os.Chmod(kp.Key, mode))
		require.NoError(t, os.Chmod(ticket, mode))
		set, err := files.Load()
		require.NoError(t, err, "mode %04o", mode)
		assert.Empty(t, set.Warnings)
		assert.Len(t, set.Certificates, 1)
	}

	for _, mode := range []os.FileMode{0o640, 0o644, 0o604} {
		require.NoError(t, os.Chmod(kp.Key, mode))
		require.NoError(t, os.Chmod(ticket, mode))
		_, err := files.Load()
		noKeyMaterial(t, err, ticketKey)
		assertFields(t, err, [][2]string{
			{"certificates[0].key", "key file " + kp.Key + " is readable by group or others (mode " + fmt.Sprintf("%04o", mode) + "): chmod 600 it, or set server.key_permissions: warn"},
			{"session_tickets.key_files[0]", "key file " + ticket + " is readable by group or others"},
		})
	}

	require.NoError(t, os.Chmod(kp.Key, 0o620))
	require.NoError(t, os.Chmod(ticket, 0o600))
	_, err := files.Load()
	assertFields(t, err, [][2]string{{"certificates[0].key", "is writable or executable by group or others (mode 0620)"}})

	// Warn mode loads the keys and reports each, at its field.
	require.NoError(t, os.Chmod(kp.Key, 0o644))
	require.NoError(t, os.Chmod(ticket, 0o640))
	files.KeyGuard = KeyGuard{Warn: true}
	set, err := files.Load()
	require.NoError(t, err)
	assert.Len(t, set.Certificates, 1)
	assert.Len(t, set.SessionTicketKeys, 1)
	require.Len(t, set.Warnings, 2)
	wantFields := []string{"certificates[0].key", "session_tickets.key_files[0]"}
	for i, w := range set.Warnings {
		var fe *gantrytls.FieldError
		require.True(t, errors.As(w, &fe), "not a FieldError: %v", w)
		assert.Equal(t, wantFields[i], fe.Field)
		assert.Contains(t, fe.Err.Error(), "is readable by group or others")
		assert.Contains(t, fe.Err.Error(), "accepted because server.key_permissions is warn")
		assert.NotContains(t, fe.Err.Error(), "PRIVATE KEY")
	}

	// A missing key is still the read's error, not the guard's.
	files = ServerFiles{Certificates: []KeyPair{{Cert: kp.Cert, Key: f.path("missing.pem")}}}
	_, err = files.Load()
	assertFields(t, err, [][2]string{{"certificates[0].key", "does not exist"}})
}

func TestKeyGuardClientKey(t *testing.T) {
	f := newFixture(t)
	_, kp := f.client("up", "gantry")
	require.NoError(t, os.Chmod(kp.Key, 0o644))
	files := ClientFiles{Cert: kp.Cert, Key: kp.Key}.Resolve("")
	_, err := files.Load()
	assertFields(t, err, [][2]string{{"key", "key file " + kp.Key + " is readable by group or others (mode 0644)"}})

	files.KeyGuard.Warn = true
	files = files.Resolve(f.dir) // Resolve keeps the guard
	set, err := files.Load()
	require.NoError(t, err)
	require.NotNil(t, set.Certificate)
	require.Len(t, set.Warnings, 1)
}

func TestKeyGuardOwner(t *testing.T) {
	requireRoot(t)
	f := newFixture(t)
	_, kp := f.server("srv")
	ticket := f.write("ticket.key", bytes.Repeat([]byte{'k'}, 32))
	require.NoError(t, os.Chown(kp.Key, nobody, nobody))
	require.NoError(t, os.Chown(ticket, nobody, nobody))
	files := ServerFiles{Certificates: []KeyPair{kp}, SessionTickets: TicketFiles{KeyFiles: []string{ticket}}}

	_, err := files.Load()
	assertFields(t, err, [][2]string{
		{"certificates[0].key", "key file " + kp.Key + " is owned by uid 65534, not by root or the user Gantry runs as (uid 0): chown it, or set server.key_permissions: warn"},
		{"session_tickets.key_files[0]", "is owned by uid 65534"},
	})

	// Both wrong: one error saying both.
	require.NoError(t, os.Chmod(kp.Key, 0o644))
	_, err = files.Load()
	assertFields(t, err, [][2]string{
		{"certificates[0].key", "is readable by group or others (mode 0644) and is owned by uid 65534, not by root or the user Gantry runs as (uid 0): chmod 600 it and chown it, or set"},
		{"session_tickets.key_files[0]", "is owned by uid 65534"},
	})
	require.NoError(t, os.Chmod(kp.Key, 0o600))

	// The user a root-started Gantry drops to may own its keys.
	files.KeyGuard = KeyGuard{Owners: []int{nobody}}
	set, err := files.Load()
	require.NoError(t, err)
	assert.Empty(t, set.Warnings)

	// Another user's key is accepted in warn mode, with a warning.
	files.KeyGuard = KeyGuard{Owners: []int{1000}, Warn: true}
	set, err = files.Load()
	require.NoError(t, err)
	require.Len(t, set.Warnings, 2)
	assert.Contains(t, set.Warnings[0].Error(), "is owned by uid 65534, not by root or the user Gantry runs as (uid 0 or 1000)")
}

func TestKeyGuardFollowsSymlinks(t *testing.T) {
	// Kubernetes mounts secrets as symbolic links: the target is checked.
	f := newFixture(t)
	_, kp := f.server("srv")
	link := filepath.Join(f.dir, "link-key.pem")
	require.NoError(t, os.Symlink(kp.Key, link))
	files := ServerFiles{Certificates: []KeyPair{{Cert: kp.Cert, Key: link}}}
	_, err := files.Load()
	require.NoError(t, err)
	require.NoError(t, os.Chmod(kp.Key, 0o644))
	_, err = files.Load()
	assertFields(t, err, [][2]string{{"certificates[0].key", "key file " + link + " is readable by group or others (mode 0644)"}})
}
