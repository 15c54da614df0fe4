package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// fastOrigin answers every request on a connection with a fixed response,
// so a benchmark measures the proxy, not the origin.
func fastOrigin(b *testing.B) string {
	return rawOrigin(&testing.T{}, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nhello, world\n"); err != nil {
				return
			}
		}
	})
}

// BenchmarkH1KeepAlive: one client connection, sequential GETs, plaintext
// on both sides: the cost of the HTTP/1.1 path itself.
func BenchmarkH1KeepAlive(b *testing.B) {
	up := fastOrigin(b)
	t := &testing.T{}
	opts := Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0"}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{up}}},
		Routes:    []RouteOptions{{Upstream: "app"}},
	}
	p, err := New(opts)
	require.NoError(b, err)
	require.NoError(b, p.Listen())
	go func() { _ = p.Serve(nil) }()
	defer p.Close()
	_ = t
	c, err := net.Dial("tcp", p.Addrs()[0].String())
	require.NoError(b, err)
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /bench HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
