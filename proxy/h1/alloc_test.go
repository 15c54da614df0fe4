package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const typicalGET = "GET /api/v1/items?id=42&sort=asc HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: application/json, text/plain, */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=0123456789abcdef\r\n" +
	"Cache-Control: no-cache\r\n\r\n"

const typicalResponse = "HTTP/1.1 200 OK\r\n" +
	"Date: Sat, 28 Nov 2026 22:00:00 GMT\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 13\r\n" +
	"Cache-Control: no-store\r\n" +
	"Server: origin\r\n\r\n" +
	"{\"ok\": true}\n"

// repeatReader returns msg forever, in reads of at most chunk bytes.
type repeatReader struct {
	msg   []byte
	off   int
	chunk int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.chunk > 0 && len(p) > r.chunk {
		p = p[:r.chunk]
	}
	n := copy(p, r.msg[r.off:])
	r.off = (r.off + n) % len(r.msg)
	return n, nil
}

func TestReadRequestAllocs(t *testing.T) {
	src := &repeatReader{msg: []byte(typicalGET)}
	rd := NewReader(src, Limits{})
	var req Request
	require.NoError(t, rd.ReadRequest(&req))
	require.Equal(t, 8, req.Header.Len())
	allocs := testing.AllocsPerRun(200, func() {
		if err := rd.ReadRequest(&req); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, "api.example.com", string(req.Host))
}

func TestReadResponseAllocs(t *testing.T) {
	src := &repeatReader{msg: []byte(typicalResponse)}
	rd := NewReader(src, Limits{})
	var resp Response
	method := []byte("GET")
	var sink [64]byte
	read := func() {
		if err := rd.ReadResponse(&resp, method); err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(rd.Body(), sink[:resp.ContentLength]); err != nil {
			panic(err)
		}
	}
	read()
	allocs := testing.AllocsPerRun(200, read)
	assert.Zero(t, allocs)
	assert.Equal(t, 200, resp.Status)
}

func TestAppendResponseHeadAllocs(t *testing.T) {
	var h Header
	h.Add("Content-Type", "text/plain")
	h.Add("Content-Length", "13")
	h.Add("Server", "gantry")
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(200, func() {
		var err error
		buf, err = AppendResponseHead(buf[:0], 200, nil, &h)
		if err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nServer: gantry\r\n\r\n", string(buf))
}

func TestHeaderReuseAllocs(t *testing.T) {
	var h Header
	fill := func() {
		h.Reset()
		h.Add("Host", "example.com")
		h.Set("X-Forwarded-For", "192.0.2.1")
		h.Del("Host")
		RemoveHopByHop(&h)
		_ = h.Get("x-forwarded-for")
	}
	fill()
	assert.Zero(t, testing.AllocsPerRun(100, fill))
}

func BenchmarkReadRequest(b *testing.B) {
	src := &repeatReader{msg: []byte(typicalGET)}
	rd := NewReader(src, Limits{})
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalGET)))
	for b.Loop() {
		if err := rd.ReadRequest(&req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadRequestNetHTTP is the reference: net/http's parser on the
// same request, with a reused bufio.Reader.
func BenchmarkReadRequestNetHTTP(b *testing.B) {
	src := &repeatReader{msg: []byte(typicalGET)}
	br := bufio.NewReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalGET)))
	for b.Loop() {
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadResponse(b *testing.B) {
	src := &repeatReader{msg: []byte(typicalResponse)}
	rd := NewReader(src, Limits{})
	var resp Response
	method := []byte("GET")
	var sink [64]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalResponse)))
	for b.Loop() {
		if err := rd.ReadResponse(&resp, method); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(rd.Body(), sink[:resp.ContentLength]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadResponseNetHTTP(b *testing.B) {
	src := &repeatReader{msg: []byte(typicalResponse)}
	br := bufio.NewReader(src)
	req, _ := http.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalResponse)))
	for b.Loop() {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRequestHead(b *testing.B) {
	rd := NewReader(bytes.NewReader([]byte(typicalGET)), Limits{})
	var req Request
	if err := rd.ReadRequest(&req); err != nil {
		b.Fatal(err)
	}
	RemoveHopByHop(&req.Header)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendRequestHead(buf[:0], req.Method, req.Target, &req.Header)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendRequestHeadNetHTTP(b *testing.B) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(typicalGET))))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := req.Write(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
