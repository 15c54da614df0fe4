package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveEcho is a minimal server loop on the codec: it answers each request
// with its method, target and body, chunked, until the client closes.
func serveEcho(conn net.Conn) error {
	defer conn.Close()
	rd := NewReader(conn, Limits{})
	bw := bufio.NewWriter(conn)
	var req Request
	var resp Header
	head := make([]byte, 0, 512)
	cw := NewChunkedWriter(bw)
	for {
		if err := rd.ReadRequest(&req); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		resp.Reset()
		resp.Add("Transfer-Encoding", "chunked")
		resp.Add("X-Echo", string(req.Method)+" "+string(req.Target))
		var err error
		if head, err = AppendResponseHead(head[:0], 200, nil, &resp); err != nil {
			return err
		}
		if _, err := bw.Write(head); err != nil {
			return err
		}
		cw.Reset(bw)
		if _, err := io.Copy(cw, rd.Body()); err != nil {
			return err
		}
		if err := cw.Close(nil); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if !req.KeepAlive {
			return nil
		}
	}
}

// TestInteropNetHTTPClient drives the codec with net/http's client over an
// in-memory connection: keep-alive reuse, Content-Length and chunked
// request bodies, chunked responses.
func TestInteropNetHTTPClient(t *testing.T) {
	var dials atomic.Int32
	serveErr := make(chan error, 4)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			c, s := net.Pipe()
			go func() { serveErr <- serveEcho(s) }()
			return c, nil
		},
		MaxConnsPerHost:   1,
		DisableKeepAlives: false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	send := func(method, target string, body io.Reader) (string, string) {
		req, err := http.NewRequest(method, "http://echo.test"+target, body)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.Header.Get("X-Echo"), string(b)
	}

	echo, body := send("GET", "/a?b=c", nil)
	assert.Equal(t, "GET /a?b=c", echo)
	assert.Empty(t, body)

	echo, body = send("POST", "/fixed", strings.NewReader("fixed body"))
	assert.Equal(t, "POST /fixed", echo)
	assert.Equal(t, "fixed body", body)

	// An io.Reader of unknown length makes net/http send a chunked body.
	big := strings.Repeat("chunk-", 10000)
	echo, body = send("PUT", "/chunked", io.MultiReader(strings.NewReader(big[:100]), strings.NewReader(big[100:])))
	assert.Equal(t, "PUT /chunked", echo)
	assert.Equal(t, big, body)

	for i := 0; i < 5; i++ {
		echo, _ = send("GET", "/n"+strconv.Itoa(i), nil)
		assert.Equal(t, "GET /n"+strconv.Itoa(i), echo)
	}
	assert.Equal(t, int32(1), dials.Load(), "one keep-alive connection for every request")
	tr.CloseIdleConnections()
	select {
	case err := <-serveErr:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("server loop did not end after the client closed")
	}
}

// pipeListener hands out one in-memory connection to http.Server.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestInteropNetHTTPServer drives net/http's server with the codec's client
// side: AppendRequestHead and ChunkedWriter out, ReadResponse in, several
// requests on one connection, including a HEAD and a 204.
func TestInteropNetHTTPServer(t *testing.T) {
	ln := &pipeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			switch r.URL.Path {
			case "/empty":
				w.WriteHeader(http.StatusNoContent)
			case "/stream":
				w.Write([]byte("part1-"))
				w.(http.Flusher).Flush()
				w.Write([]byte("part2"))
			default:
				w.Header().Set("Content-Length", strconv.Itoa(len(b)+len(r.Method)))
				w.Write([]byte(r.Method))
				w.Write(b)
			}
		}),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()

	client, server := net.Pipe()
	ln.conns <- server
	defer client.Close()
	require.NoError(t, client.SetDeadline(time.Now().Add(10*time.Second)))

	bw := bufio.NewWriter(client)
	rd := NewReader(client, Limits{})
	var h Header
	var resp Response
	head := make([]byte, 0, 512)
	roundTrip := func(method, target, body string, chunked bool) (int, string) {
		h.Reset()
		h.Add("Host", "origin.test")
		if chunked {
			h.Add("Transfer-Encoding", "chunked")
		} else if body != "" {
			h.Add("Content-Length", strconv.Itoa(len(body)))
		}
		var err error
		head, err = AppendRequestHead(head[:0], []byte(method), []byte(target), &h)
		require.NoError(t, err)
		bw.Write(head)
		if chunked {
			cw := NewChunkedWriter(bw)
			cw.Write([]byte(body[:len(body)/2]))
			cw.Write([]byte(body[len(body)/2:]))
			require.NoError(t, cw.Close(nil))
		} else {
			bw.WriteString(body)
		}
		require.NoError(t, bw.Flush())
		require.NoError(t, rd.ReadResponse(&resp, []byte(method)))
		got, err := io.ReadAll(rd.Body())
		require.NoError(t, err)
		assert.True(t, resp.KeepAlive)
		return resp.Status, string(got)
	}

	status, body := roundTrip("POST", "/echo", "hello", false)
	assert.Equal(t, 200, status)
	assert.Equal(t, "POSThello", body)
	status, body = roundTrip("PUT", "/echo", strings.Repeat("x", 5000), true)
	assert.Equal(t, 200, status)
	assert.Equal(t, "PUT"+strings.Repeat("x", 5000), body)
	status, body = roundTrip("HEAD", "/echo", "", false)
	assert.Equal(t, 200, status)
	assert.Empty(t, body)
	assert.Equal(t, int64(4), resp.ContentLength)
	status, body = roundTrip("GET", "/empty", "", false)
	assert.Equal(t, 204, status)
	assert.Empty(t, body)
	status, body = roundTrip("GET", "/stream", "", false)
	assert.Equal(t, 200, status)
	assert.True(t, resp.Chunked)
	assert.Equal(t, "part1-part2", body)
}
