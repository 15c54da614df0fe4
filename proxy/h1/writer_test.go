package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeaderOps(t *testing.T) {
	var h Header
	h.Add("Host", "a")
	h.Add("X-A", "1")
	h.AddBytes([]byte("x-a"), []byte("2"))
	h.Add("Y", "3")
	assert.Equal(t, "a", string(h.Get("host")))
	assert.Equal(t, "1", string(h.Get("X-a")))
	assert.Nil(t, h.Get("missing"))
	assert.True(t, h.Has("Y"))
	assert.Equal(t, 2, h.Count("x-A"))

	h.Set("X-A", "new")
	assert.Equal(t, [][2]string{{"Host", "a"}, {"X-A", "new"}, {"Y", "3"}}, copyFields(&h))
	h.Set("Z", "4")
	h.Del("host")
	assert.Equal(t, [][2]string{{"X-A", "new"}, {"Y", "3"}, {"Z", "4"}}, copyFields(&h))

	h.Reset()
	assert.Equal(t, 0, h.Len())
	h.Add("A", "b")
	assert.Equal(t, [][2]string{{"A", "b"}}, copyFields(&h))
}

func TestHeaderArenaGrowthKeepsFields(t *testing.T) {
	var h Header
	for i := 0; i < 200; i++ {
		h.Add("Name", strings.Repeat("v", i))
	}
	for i, f := range h.Fields {
		require.Len(t, f.Value, i)
		assert.Equal(t, "Name", string(f.Name))
	}
}

func TestRemoveHopByHop(t *testing.T) {
	var h Header
	h.Add("Host", "a")
	h.Add("Connection", "X-Secret, keep-alive")
	h.Add("X-Secret", "s")
	h.Add("Keep-Alive", "timeout=5")
	h.Add("TE", "trailers")
	h.Add("Transfer-Encoding", "chunked")
	h.Add("Upgrade", "websocket")
	h.Add("connection", "host, X-Other, content-length")
	h.Add("Content-Length", "5")
	h.Add("x-other", "o")
	h.Add("Proxy-Authorization", "Basic x")
	h.Add("Proxy-Connection", "keep-alive")
	h.Add("Trailer", "X-T")
	h.Add("Proxy-Authenticate", "Basic")
	h.Add("Accept", "*/*")
	RemoveHopByHop(&h)
	assert.Equal(t, [][2]string{{"Host", "a"}, {"Content-Length", "5"}, {"Accept", "*/*"}}, copyFields(&h))
}

func TestAppendRequestHeadRoundTrip(t *testing.T) {
	var h Header
	h.Add("Host", "example.com")
	h.Add("Content-Length", "5")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	buf, err := AppendRequestHead(nil, []byte("POST"), []byte("/p?q=1"), &h)
	require.NoError(t, err)
	assert.Equal(t, "POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n", string(buf))

	// net/http reads what we wrote, with the body after it.
	req, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(buf), strings.NewReader("hello"))))
	require.NoError(t, err)
	assert.Equal(t, "example.com", req.Host)
	assert.Equal(t, []string{"a", "b"}, req.Header.Values("X-Multi"))
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(body))
}

func TestAppendHeadRefusesInjection(t *testing.T) {
	bad := []struct {
		name, fname, value string
	}{
		{"CRLF in value", "X-A", "a\r\nX-Injected: 1"},
		{"LF in value", "X-A", "a\nb"},
		{"NUL in value", "X-A", "a\x00"},
		{"space in name", "X A", "b"},
		{"colon in name", "X:A", "b"},
		{"empty name", "", "b"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			h.Add(tt.fname, tt.value)
			dst := []byte("keep")
			out, err := AppendRequestHead(dst, []byte("GET"), []byte("/"), &h)
			require.Error(t, err)
			assert.Equal(t, "keep", string(out))
			out, err = AppendResponseHead(dst, 200, nil, &h)
			require.Error(t, err)
			assert.Equal(t, "keep", string(out))
		})
	}
	_, err := AppendRequestHead(nil, []byte("GET"), []byte("/a b"), nil)
	assert.Error(t, err)
	_, err = AppendRequestHead(nil, []byte("G T"), []byte("/"), nil)
	assert.Error(t, err)
	_, err = AppendResponseHead(nil, 200, []byte("O\r\nK"), nil)
	assert.Error(t, err)
	_, err = AppendResponseHead(nil, 42, nil, nil)
	assert.Error(t, err)
}

func TestAppendResponseHeadAndChunkedRoundTrip(t *testing.T) {
	var h Header
	h.Add("Transfer-Encoding", "chunked")
	h.Add("Trailer", "X-Sum")
	var out bytes.Buffer
	head, err := AppendResponseHead(nil, 200, nil, &h)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n", string(head))
	out.Write(head)
	cw := NewChunkedWriter(&out)
	for _, s := range []string{"hello ", "", strings.Repeat("w", 300)} {
		n, err := cw.Write([]byte(s))
		require.NoError(t, err)
		assert.Equal(t, len(s), n)
	}
	var tr Header
	tr.Add("X-Sum", "42")
	require.NoError(t, cw.Close(&tr))
	_, err = cw.Write([]byte("late"))
	assert.Error(t, err)

	wire := out.Bytes()
	// Our reader.
	rd := NewReader(bytes.NewReader(wire), Limits{})
	var resp Response
	require.NoError(t, rd.ReadResponse(&resp, nil))
	body, err := io.ReadAll(rd.Body())
	require.NoError(t, err)
	assert.Equal(t, "hello "+strings.Repeat("w", 300), string(body))
	assert.Equal(t, "42", string(rd.Trailer().Get("x-sum")))

	// net/http's reader.
	hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), nil)
	require.NoError(t, err)
	body, err = io.ReadAll(hr.Body)
	require.NoError(t, err)
	assert.Equal(t, "hello "+strings.Repeat("w", 300), string(body))
	assert.Equal(t, "42", hr.Trailer.Get("X-Sum"))
}

func TestStatusText(t *testing.T) {
	for _, code := range []int{100, 101, 200, 204, 301, 304, 400, 404, 431, 500, 502, 505} {
		assert.Equal(t, http.StatusText(code), StatusText(code), "%d", code)
	}
	assert.Equal(t, "Status", StatusText(599))
}
