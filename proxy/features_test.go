package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnect(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	_, port, _ := net.SplitHostPort(addrOf(o))
	connectReq := "CONNECT " + addrOf(o) + " HTTP/1.1\r\nHost: " + addrOf(o) + "\r\n\r\n"

	t.Run("refused by default", func(t *testing.T) {
		_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
		c := rawTLS(t, addr)
		_, err := io.WriteString(c, connectReq)
		require.NoError(t, err)
		assert.Equal(t, http.StatusMethodNotAllowed, readStatusAndClose(t, c))
	})
	t.Run("port not allowed", func(t *testing.T) {
		opts := simpleOptions(t, o, serverTLS(t, ""), nil)
		opts.Connect = ConnectOptions{Allow: true, Ports: []int{443}}
		_, addr := startProxy(t, opts)
		c := rawTLS(t, addr)
		_, err := io.WriteString(c, connectReq)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, readStatusAndClose(t, c))
	})
	t.Run("allowed port tunnels", func(t *testing.T) {
		p, err := strconv.Atoi(port)
		require.NoError(t, err)
		opts := simpleOptions(t, o, serverTLS(t, ""), nil)
		opts.Connect = ConnectOptions{Allow: true, Ports: []int{p}}
		_, addr := startProxy(t, opts)
		c := rawTLS(t, addr)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = io.WriteString(c, connectReq)
		require.NoError(t, err)
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		assert.Contains(t, line, " 200 ")
		for {
			l, err := br.ReadString('\n')
			require.NoError(t, err)
			if l == "\r\n" {
				break
			}
		}
		_, err = io.WriteString(c, "GET /through HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "hello GET /through ", string(b))
	})
}

func TestWebSocket(t *testing.T) {
	up := rawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.Copy(c, br) // echo
	})
	_, addr := startProxy(t, optionsTo(t, up))
	c := rawTLS(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	for _, msg := range []string{"ping", "frame-2"} {
		_, err = io.WriteString(c, msg)
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(br, got)
		require.NoError(t, err)
		assert.Equal(t, msg, string(got))
	}
}

func TestTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "part one,")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "part two")
		w.Header().Set("X-Checksum", "abc123")
	})
	for _, up := range []struct {
		name    string
		tls, h2 bool
	}{{"plain-h1", false, false}, {"tls-h2", true, true}} {
		for _, h2 := range []bool{false, true} {
			t.Run(up.name+"/h2down="+strconv.FormatBool(h2), func(t *testing.T) {
				o := newOrigin(t, h, up.tls, up.h2)
				var utls *UpstreamTLS
				if up.tls {
					utls = upstreamTLS(t, "", "h2")
				}
				_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), utls))
				resp, body := get(t, client(t, h2), "https://"+addr+"/")
				assert.Equal(t, "part one,part two", body)
				assert.Equal(t, "abc123", resp.Trailer.Get("X-Checksum"))
			})
		}
	}
}

func TestShutdownDrains(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "slow done")
	})
	o := newOrigin(t, h, false, false)
	for _, h2 := range []bool{false, true} {
		t.Run("h2="+strconv.FormatBool(h2), func(t *testing.T) {
			p, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
			type result struct {
				status int
				body   string
				err    error
			}
			res := make(chan result, 1)
			c := client(t, h2)
			go func() {
				resp, err := c.Get("https://" + addr + "/slow")
				if err != nil {
					res <- result{err: err}
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				res <- result{resp.StatusCode, string(b), err}
			}()
			<-started
			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				shut <- p.Shutdown(ctx)
			}()
			// New connections are refused once the listener is closed.
			require.Eventually(t, func() bool {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
				}
				return err != nil
			}, 10*time.Second, 20*time.Millisecond)
			release <- struct{}{}
			r := <-res
			require.NoError(t, r.err)
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "slow done", r.body)
			assert.NoError(t, <-shut)
		})
	}
}

// lockedBuffer is an io.Writer safe for the proxy's concurrent logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAccessLogRedaction(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	var buf lockedBuffer
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	opts.AccessLog = AccessLogOptions{
		Writer:        &buf,
		Headers:       []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key", "User-Agent"},
		RedactHeaders: []string{"X-Api-Key"},
	}
	_, addr := startProxy(t, opts)
	for _, h2 := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodPost, "https://"+addr+"/login", strings.NewReader("password=body-secret"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer auth-secret")
		req.Header.Set("Cookie", "session=cookie-secret")
		req.Header.Set("Proxy-Authorization", "Basic proxy-secret")
		req.Header.Set("X-Api-Key", "key-secret")
		req.Header.Set("User-Agent", "gantry-test")
		resp, err := client(t, h2).Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	out := buf.String()
	for _, secret := range []string{"auth-secret", "cookie-secret", "proxy-secret", "key-secret", "body-secret"} {
		assert.NotContains(t, out, secret)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		assert.Equal(t, "POST", rec["method"])
		assert.Equal(t, "/login", rec["path"])
		assert.EqualValues(t, 200, rec["status"])
		assert.Equal(t, "gostd", rec["tls_backend"])
		hs, _ := rec["headers"].(map[string]any)
		assert.Equal(t, Redacted, hs["authorization"])
		assert.Equal(t, Redacted, hs["cookie"])
		assert.Equal(t, Redacted, hs["x-api-key"])
		assert.Equal(t, "gantry-test", hs["user-agent"])
	}
}

func TestRequestTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(b)+" trailer="+r.Trailer.Get("X-Req-Sum"))
	})
	o := newOrigin(t, h, false, false)
	_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
	for _, h2 := range []bool{false, true} {
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, "https://"+addr+"/", pr)
		require.NoError(t, err)
		req.ContentLength = -1
		req.Trailer = http.Header{"X-Req-Sum": nil}
		go func() {
			_, _ = io.WriteString(pw, "streamed")
			req.Trailer.Set("X-Req-Sum", "s42")
			_ = pw.Close()
		}()
		resp, err := client(t, h2).Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "streamed trailer=s42", string(b), "h2down=%v", h2)
	}
}
