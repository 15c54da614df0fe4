package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy"
)

func TestMinimalProxies(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "origin saw "+r.URL.Path)
	}))
	defer origin.Close()
	p, err := proxy.New(options("127.0.0.1:0", origin.Listener.Addr().String(), nil, "gostd"))
	require.NoError(t, err)
	require.NoError(t, p.Listen())
	done := make(chan error, 1)
	go func() { done <- p.Serve(nil) }()
	defer func() {
		require.NoError(t, p.Close())
		assert.ErrorIs(t, <-done, proxy.ErrServerClosed)
	}()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + p.Addrs()[0].String() + "/x")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "origin saw /x", string(b))
}
