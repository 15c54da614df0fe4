package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeaderAuth(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "auth="+r.Header.Get("Authorization")+" by="+r.Header.Get("X-Authenticated-By"))
	}))
	defer origin.Close()

	p, err := newProxy("127.0.0.1:0", origin.Listener.Addr().String(), "s3cret", nil)
	require.NoError(t, err)
	require.NoError(t, p.Listen())
	done := make(chan error, 1)
	go func() { done <- p.Serve(nil) }()
	defer func() {
		require.NoError(t, p.Close())
		<-done
	}()
	url := "http://" + p.Addrs()[0].String() + "/"
	c := &http.Client{Timeout: 10 * time.Second}

	cases := []struct {
		name, auth string
		status     int
		body       string
	}{
		{"no token", "", http.StatusUnauthorized, "missing or wrong token\n"},
		{"wrong token", "Bearer nope", http.StatusUnauthorized, "missing or wrong token\n"},
		{"right token", "Bearer s3cret", http.StatusOK, "auth= by=gantry-headerauth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, url, nil)
			require.NoError(t, err)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.body, string(b))
		})
	}
}

func TestEmptyTokenRefused(t *testing.T) {
	_, err := newProxy("127.0.0.1:0", "127.0.0.1:1", "", nil)
	assert.Error(t, err)
}
