package demo

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestOrigin(t *testing.T) {
	o, err := Start()
	require.NoError(t, err)
	defer func() { assert.NoError(t, o.Close(context.Background())) }()
	base := "http://" + o.Addr()

	tests := []struct {
		name       string
		path       string
		header     http.Header
		status     int
		contains   []string
		notContain []string
	}{
		{
			name: "proxied echo redacts secrets", path: "/hello?x=1",
			header: http.Header{
				"Via":           {"1.1 gantry"},
				"Authorization": {"Bearer s3cret"},
				"Cookie":        {"session=t0ken"},
				"X-Test":        {"visible\there"},
			},
			status:     200,
			contains:   []string{"proxied by Gantry", "GET /hello?x=1", "Authorization: [REDACTED]", "Cookie: [REDACTED]", "X-Test: visible?here"},
			notContain: []string{"s3cret", "t0ken", "\t"},
		},
		{
			name: "direct request says so", path: "/", status: 200,
			contains: []string{"did not come through a proxy"},
		},
		{name: "big bad size", path: "/big?size=-1", status: 400},
		{name: "big too large", path: "/big?size=999999999999", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, base+tt.path, tt.header)
			assert.Equal(t, tt.status, resp.StatusCode)
			for _, s := range tt.contains {
				assert.Contains(t, body, s)
			}
			for _, s := range tt.notContain {
				assert.NotContains(t, body, s)
			}
		})
	}

	for _, n := range []int{0, 1, 4096, 4097, DefaultBigSize} {
		path := "/big"
		if n != DefaultBigSize {
			path += "?size=" + strconv.Itoa(n)
		}
		resp, body := get(t, base+path, nil)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, int64(n), resp.ContentLength)
		assert.Equal(t, string(BigBody(n)), body, "size %d", n)
	}
}
