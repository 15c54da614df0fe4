package h1

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		raw       string
		status    int
		reason    string
		body      string
		cl        int64
		chunked   bool
		noBody    bool
		untilEnd  bool
		keepAlive bool
		tunnel    bool
		hasCL     bool
	}{
		{name: "fixed", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, reason: "OK", body: "hello", cl: 5, keepAlive: true, hasCL: true},
		{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, reason: "OK", body: "abc", cl: -1, chunked: true, keepAlive: true},
		{name: "TE drops CL", raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, reason: "OK", body: "abc", cl: -1, chunked: true, keepAlive: true},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200, reason: "OK", body: "all of it", cl: -1, untilEnd: true},
		{name: "HEAD", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", status: 200, reason: "OK", cl: 50, noBody: true, keepAlive: true, hasCL: true},
		{name: "204", raw: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, reason: "No Content", cl: -1, noBody: true, keepAlive: true},
		{name: "304", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", status: 304, reason: "Not Modified", cl: 10, noBody: true, keepAlive: true, hasCL: true},
		{name: "no reason no space", raw: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", status: 200, cl: 0, keepAlive: true, hasCL: true},
		{name: "empty reason", raw: "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", status: 404, cl: 0, keepAlive: true, hasCL: true},
		{name: "1.0 close", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", status: 200, reason: "OK", body: "hi", cl: 2, hasCL: true},
		{name: "1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi", status: 200, reason: "OK", body: "hi", cl: 2, keepAlive: true, hasCL: true},
		{name: "101", raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", status: 101, reason: "Switching Protocols", cl: -1, noBody: true, tunnel: true},
		{name: "CONNECT 200", method: "CONNECT", raw: "HTTP/1.1 200 Connection established\r\n\r\n", status: 200, reason: "Connection established", cl: -1, noBody: true, tunnel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var method []byte
			if tt.method != "" {
				method = []byte(tt.method)
			}
			rd := NewReader(iotest.HalfReader(strings.NewReader(tt.raw)), Limits{})
			var resp Response
			require.NoError(t, rd.ReadResponse(&resp, method))
			assert.Equal(t, tt.status, resp.Status)
			assert.Equal(t, tt.reason, string(resp.Reason))
			assert.Equal(t, tt.cl, resp.ContentLength)
			assert.Equal(t, tt.chunked, resp.Chunked)
			assert.Equal(t, tt.noBody, resp.NoBody)
			assert.Equal(t, tt.untilEnd, resp.BodyUntilClose)
			assert.Equal(t, tt.keepAlive, resp.KeepAlive)
			assert.Equal(t, tt.tunnel, resp.Tunnel)
			assert.Equal(t, tt.hasCL, resp.Header.Has("Content-Length"))
			body, err := io.ReadAll(rd.Body())
			require.NoError(t, err)
			assert.Equal(t, tt.body, string(body))
		})
	}
}

func TestReadResponseInterim(t *testing.T) {
	raw := "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	rd := NewReader(strings.NewReader(raw), Limits{})
	var resp Response
	var statuses []int
	for {
		require.NoError(t, rd.ReadResponse(&resp, []byte("POST")))
		statuses = append(statuses, resp.Status)
		if resp.Status >= 200 {
			break
		}
	}
	assert.Equal(t, []int{100, 103, 200}, statuses)
	body, err := io.ReadAll(rd.Body())
	require.NoError(t, err)
	assert.Equal(t, "ok", string(body))
}

func TestReadResponseRefused(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"bad CL", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"},
		{"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"},
		{"repeated CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"TE list", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"TE on 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"version", "HTTP/2.0 200 OK\r\n\r\n"},
		{"status letters", "HTTP/1.1 2x0 OK\r\n\r\n"},
		{"status out of range", "HTTP/1.1 099 Low\r\n\r\n"},
		{"status glued reason", "HTTP/1.1 200OK\r\n\r\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
		{"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
		{"too many fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", 101) + "\r\n"},
		{"too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", 70<<10) + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := NewReader(strings.NewReader(tt.raw), Limits{})
			var resp Response
			e, ok := IsError(rd.ReadResponse(&resp, nil))
			require.True(t, ok)
			assert.Equal(t, 502, e.Status, e.Reason)
		})
	}

	// Body framing errors in responses are 502 too.
	rd := NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), Limits{})
	var resp Response
	require.NoError(t, rd.ReadResponse(&resp, nil))
	_, err := io.ReadAll(rd.Body())
	e, ok := IsError(err)
	require.True(t, ok)
	assert.Equal(t, 502, e.Status)
}

// TestChunkedLargeBodyAfterLargeHead reads a chunked body whose chunk lines
// and trailers cannot fit behind a head that filled the buffer, so the
// buffer is replaced mid-body; the head must survive that.
func TestChunkedLargeBodyAfterLargeHead(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pad: " + strings.Repeat("p", initialBufSize-60) + "\r\n\r\n"
	var body strings.Builder
	var want strings.Builder
	for i := 1; i < 40; i++ {
		chunk := strings.Repeat(string(rune('a'+i%26)), i*37)
		body.WriteString(strconv.FormatInt(int64(len(chunk)), 16))
		body.WriteString(";ext=" + strings.Repeat("e", 100) + "\r\n" + chunk + "\r\n")
		want.WriteString(chunk)
	}
	body.WriteString("0\r\nX-Trailer: " + strings.Repeat("t", 8000) + "\r\n\r\n")
	for _, r := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, func(r io.Reader) io.Reader { return r }} {
		rd := NewReader(r(strings.NewReader(head+body.String())), Limits{})
		var resp Response
		require.NoError(t, rd.ReadResponse(&resp, nil))
		pad := resp.Header.Get("X-Pad")
		got, err := io.ReadAll(rd.Body())
		require.NoError(t, err)
		assert.Equal(t, want.String(), string(got))
		assert.Equal(t, strings.Repeat("p", initialBufSize-60), string(pad))
		assert.Equal(t, "chunked", string(resp.Header.Get("transfer-encoding")))
		assert.Len(t, rd.Trailer().Get("X-Trailer"), 8000)
	}
}
