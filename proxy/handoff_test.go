package proxy

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy/listen"
)

// TestHandOff: an old proxy hands its listener to a new one, which
// serves on the same address while the old one drains.
func TestHandOff(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	old, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
	resp, _ := get(t, client(t, false), "https://"+addr+"/")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	dir, err := os.MkdirTemp("", "gantry-handoff")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "handoff.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	defer ul.Close()

	sent := make(chan error, 1)
	go func() {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		sent <- listen.SendListeners(c, old.Listeners())
	}()
	require.NoError(t, ul.SetDeadline(time.Now().Add(10*time.Second)))
	uc, err := ul.AcceptUnix()
	require.NoError(t, err)
	defer uc.Close()
	lns, err := listen.ReceiveListeners(uc)
	require.NoError(t, err)
	require.NoError(t, <-sent)
	require.Len(t, lns, 1)
	assert.Equal(t, addr, lns[0].Addr().String())

	// The new proxy serves the inherited socket; the old one drains.
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	next, err := New(opts)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- next.Serve(lns) }()
	defer func() {
		_ = next.Close()
		<-done
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, old.Shutdown(ctx))

	resp, body := get(t, client(t, false), "https://"+addr+"/after")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello GET /after ", body)
}
