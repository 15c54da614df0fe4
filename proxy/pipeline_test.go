package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy/h1/h1test"
)

// readStatusAndClose reads one response from c and then expects the
// connection to be closed by the proxy. It returns the status.
func readStatusAndClose(t *testing.T, c net.Conn) int {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "connection must be closed after the refusal")
	return resp.StatusCode
}

// TestSmugglingCorpus sends every refused request of the codec's corpus
// through the whole pipeline: TLS, codec, validation, hooks, upstream.
func TestSmugglingCorpus(t *testing.T) { forEachBackend(t, testSmugglingCorpus) }

func testSmugglingCorpus(t *testing.T, backend string) {
	o := newOrigin(t, nil, false, false)
	_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, backend), nil))
	for _, tc := range h1test.Smuggling {
		t.Run(tc.Name, func(t *testing.T) {
			c := rawTLS(t, addr)
			_, err := io.WriteString(c, tc.Raw)
			require.NoError(t, err)
			assert.Equal(t, tc.WantStatus, readStatusAndClose(t, c))
		})
	}
	assert.Zero(t, o.requests.Load(), "the origin must never see a refused request")
}

// rawOrigin is a TCP server that runs serve on each connection.
func rawOrigin(t *testing.T, serve func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func optionsTo(t *testing.T, upstreamAddr string) Options {
	return optionsToBackend(t, upstreamAddr, "")
}

// optionsToBackend is optionsTo with the listener on backend.
func optionsToBackend(t *testing.T, upstreamAddr, backend string) Options {
	return Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, backend)}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{upstreamAddr}}},
		Routes:    []RouteOptions{{Upstream: "app"}},
	}
}

func TestTimeouts(t *testing.T) { forEachBackend(t, testTimeouts) }

func testTimeouts(t *testing.T, backend string) {
	t.Run("slow header is cut at the header deadline", func(t *testing.T) {
		o := newOrigin(t, nil, false, false)
		opts := simpleOptions(t, o, serverTLS(t, backend), nil)
		opts.Timeouts.RequestHeader = time.Second
		_, addr := startProxy(t, opts)
		c := rawTLS(t, addr)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for _, b := range []byte("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n") {
				select {
				case <-stop:
					return
				case <-time.After(300 * time.Millisecond):
				}
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
			}
		}()
		assert.Equal(t, http.StatusRequestTimeout, readStatusAndClose(t, c))
		assert.Zero(t, o.requests.Load())
	})

	t.Run("no ClientHello is closed at the handshake deadline", func(t *testing.T) {
		o := newOrigin(t, nil, false, false)
		opts := simpleOptions(t, o, serverTLS(t, backend), nil)
		opts.Timeouts.TLSHandshake = time.Second
		_, addr := startProxy(t, opts)
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(15*time.Second)))
		_, err = c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "the proxy closes the connection, the client does not time out")
	})

	t.Run("silent upstream gives 504", func(t *testing.T) {
		up := rawOrigin(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
		opts := optionsToBackend(t, up, backend)
		opts.Timeouts.UpstreamResponseHeader = time.Second
		_, addr := startProxy(t, opts)
		for _, h2 := range []bool{false, true} {
			resp, _ := get(t, client(t, h2), "https://"+addr+"/")
			assert.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
		}
	})

	t.Run("upstream stalling mid-body ends the client's body with an error", func(t *testing.T) {
		up := rawOrigin(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
			_, _ = io.Copy(io.Discard, c)
		})
		opts := optionsToBackend(t, up, backend)
		opts.Timeouts.UpstreamRead = time.Second
		_, addr := startProxy(t, opts)
		for _, h2 := range []bool{false, true} {
			resp, err := client(t, h2).Get("https://" + addr + "/")
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Error(t, err, "a cut body must not look complete (h2=%v)", h2)
			assert.Equal(t, "hello", string(b))
		}
	})

	t.Run("a chunked body streaming for longer than upstream_response_header is not cut", func(t *testing.T) {
		// Each chunk comes well within upstream_read, the whole body
		// takes longer than upstream_response_header: the head's
		// deadline must not be the one the body runs under (a chunk's
		// CRLF left in the buffer used to keep it).
		const chunks = 8
		up := rawOrigin(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			for {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
				for i := range chunks {
					_, _ = fmt.Fprintf(c, "2\r\n%02d\r\n", i)
					time.Sleep(150 * time.Millisecond)
				}
				_, _ = io.WriteString(c, "0\r\n\r\n")
			}
		})
		opts := optionsToBackend(t, up, backend)
		opts.Timeouts.UpstreamResponseHeader = 400 * time.Millisecond
		opts.Timeouts.UpstreamRead = 5 * time.Second
		_, addr := startProxy(t, opts)
		for _, h2 := range []bool{false, true} {
			resp, err := client(t, h2).Get("https://" + addr + "/")
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err, "h2=%v", h2)
			assert.Equal(t, "0001020304050607", string(b))
		}
	})
}

func TestLimits(t *testing.T) { forEachBackend(t, testLimits) }

func testLimits(t *testing.T, backend string) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, backend), nil)
	opts.Limits = Limits{MaxHeaderCount: 10, MaxHeaderBytes: 4096, MaxBodyBytes: 1000}
	_, addr := startProxy(t, opts)

	manyHeaders := "GET / HTTP/1.1\r\nHost: localhost\r\n"
	for i := range 20 {
		manyHeaders += fmt.Sprintf("X-H%d: v\r\n", i)
	}
	cases := []struct {
		name string
		raw  string
		want int
	}{
		{"too many fields", manyHeaders + "\r\n", 431},
		{"head too large", "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n", 431},
		{"declared body too large", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n", 413},
		{"chunked body too large", "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n7d1\r\n" + strings.Repeat("a", 2001) + "\r\n0\r\n\r\n", 413},
		{"missing host", "GET / HTTP/1.0\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawTLS(t, addr)
			_, err := io.WriteString(c, tc.raw)
			require.NoError(t, err)
			assert.Equal(t, tc.want, readStatusAndClose(t, c))
		})
	}

	t.Run("h2 too many fields", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
		require.NoError(t, err)
		for i := range 20 {
			req.Header.Set(fmt.Sprintf("X-H%d", i), "v")
		}
		resp, err := client(t, true).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 431, resp.StatusCode)
	})
	t.Run("h2 body too large", func(t *testing.T) {
		resp, err := client(t, true).Post("https://"+addr+"/", "text/plain", strings.NewReader(strings.Repeat("a", 2000)))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 413, resp.StatusCode)
	})
	assert.Zero(t, o.requests.Load())
}
