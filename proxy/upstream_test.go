package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gantry-proxy/gantry/proxy/upstream"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

func TestPoolReuse(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		o := newOrigin(t, nil, false, false)
		_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
		c := client(t, h2)
		for range 100 {
			resp, body := get(t, c, "https://"+addr+"/n")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "hello GET /n ", body)
		}
		assert.EqualValues(t, 100, o.requests.Load())
		assert.EqualValues(t, 1, o.conns.Load(), "100 sequential requests over one upstream connection (h2down=%v)", h2)
	}
}

// TestRetryStalePooledConn: an origin that answers one request per
// connection and then drops the connection as soon as the next request
// arrives leaves the proxy a pooled connection that dies in use. An
// idempotent request is retried on a fresh connection, a POST is not.
// (A connection already closed while idle is never reused at all: the pool
// checks for that before handing it out.)
func TestRetryStalePooledConn(t *testing.T) {
	var conns atomic.Int64
	up := rawOrigin(t, func(c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// Wait for the next request on this connection, then close
		// without answering it.
		_, _ = http.ReadRequest(br)
	})
	_, addr := startProxy(t, optionsTo(t, up))
	c := client(t, false)
	for i := range 3 {
		resp, body := get(t, c, "https://"+addr+"/")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "GET %d", i)
		assert.Equal(t, "ok", body)
	}
	resp, err := c.Post("https://"+addr+"/", "text/plain", strings.NewReader("not replayable"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "a POST on a dead pooled connection is not retried")
	assert.GreaterOrEqual(t, conns.Load(), int64(3))
}

func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestRouting(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) })
	}
	a := newOrigin(t, named("A"), false, false)
	b := newOrigin(t, named("B"), false, false)
	opts := Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{
			"a": {Addrs: []string{addrOf(a)}},
			"b": {Addrs: []string{addrOf(b)}},
		},
		Routes: []RouteOptions{
			{Host: "a.test", Upstream: "a"},
			{Host: "*.b.test", Upstream: "b"},
			{PathPrefix: "/api/", Upstream: "b"},
		},
	}
	_, addr := startProxy(t, opts)
	cases := []struct {
		host, path string
		status     int
		body       string
	}{
		{"a.test", "/", 200, "A"},
		{"A.TEST:443", "/x", 200, "A"},
		{"x.b.test", "/", 200, "B"},
		{"b.test", "/", 404, ""},
		{"other.test", "/api/v1", 200, "B"},
		{"other.test", "/", 404, ""},
	}
	for _, h2 := range []bool{false, true} {
		c := client(t, h2)
		for _, tc := range cases {
			req, err := http.NewRequest(http.MethodGet, "https://"+addr+tc.path, nil)
			require.NoError(t, err)
			req.Host = tc.host
			resp, err := c.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode, "%s%s", tc.host, tc.path)
			if tc.status == 200 {
				assert.Equal(t, tc.body, string(body))
			}
		}
	}
}

func TestPassiveHealthAndFailover(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{
			"app": {Addrs: []string{deadAddr(t), addrOf(o)}, Health: HealthOptions{MaxFails: 1, EjectFor: time.Minute}},
		},
		Routes: []RouteOptions{{Upstream: "app"}},
	}
	p, addr := startProxy(t, opts)
	c := client(t, false)
	for range 10 {
		resp, _ := get(t, c, "https://"+addr+"/")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	dead := p.router.groups["app"].g.Servers()[0]
	assert.True(t, dead.EjectedUntil().After(time.Now()), "the dead server is ejected")
}

func TestActiveHealthCheck(t *testing.T) {
	var badHits atomic.Int64
	bad := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		badHits.Add(1)
		_, _ = io.WriteString(w, "bad")
	}), false, false)
	good := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "good") }), false, false)
	opts := Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{
			"app": {Addrs: []string{addrOf(bad), addrOf(good)}, Health: HealthOptions{Check: &HealthCheckOptions{Path: "/healthz", Interval: 100 * time.Millisecond, Timeout: time.Second}}},
		},
		Routes: []RouteOptions{{Upstream: "app"}},
	}
	p, addr := startProxy(t, opts)
	servers := p.router.groups["app"].g.Servers()
	require.Eventually(t, func() bool { return servers[0].Unhealthy() }, 10*time.Second, 20*time.Millisecond)
	assert.False(t, servers[1].Unhealthy())
	c := client(t, false)
	for range 10 {
		_, body := get(t, c, "https://"+addr+"/")
		assert.Equal(t, "good", body)
	}
	assert.Zero(t, badHits.Load())
}

func TestHooks(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	var logged atomic.Int64
	opts.Hooks = Hooks{
		RequestFilter: func(s *Session) (bool, error) {
			if string(s.Request.Header.Get("X-Token")) != "let-me-in" {
				var h Header
				h.Add("Content-Type", "text/plain")
				return true, s.Respond(http.StatusForbidden, h, []byte("no token\n"))
			}
			if s.Request.Path == "/teapot" {
				return false, &StatusError{Status: http.StatusTeapot}
			}
			return false, nil
		},
		UpstreamRequestFilter: func(s *Session, req *RequestHead) error {
			req.Header.Set("X-Secret", "from-hook")
			return nil
		},
		ResponseFilter: func(s *Session, resp *ResponseHead) error {
			resp.Header.Set("X-Filtered", "yes")
			return nil
		},
		Logging: func(s *Session, err error) { logged.Add(1) },
	}
	_, addr := startProxy(t, opts)
	for _, h2 := range []bool{false, true} {
		c := client(t, h2)
		resp, body := get(t, c, "https://"+addr+"/")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Equal(t, "no token\n", body)

		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/ok", nil)
		req.Header.Set("X-Token", "let-me-in")
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "from-hook", resp.Header.Get("X-Got-Secret"))
		assert.Equal(t, "yes", resp.Header.Get("X-Filtered"))

		req, _ = http.NewRequest(http.MethodGet, "https://"+addr+"/teapot", nil)
		req.Header.Set("X-Token", "let-me-in")
		resp, err = c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	}
	// Logging runs after the response went out: the last call may still
	// be on its way when the client has its answer.
	assert.Eventually(t, func() bool { return logged.Load() == 6 }, 5*time.Second, 5*time.Millisecond, "logged %d", logged.Load())
	assert.EqualValues(t, 2, o.requests.Load())
}

func TestForwardingHeaders(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
	c := rawTLS(t, addr)
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: close, X-Drop\r\nX-Drop: gone\r\nKeep-Alive: 5\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	// The client is no trusted proxy: its X-Forwarded-For is replaced.
	assert.Equal(t, "127.0.0.1", resp.Header.Get("X-Got-XFF"))
	assert.Equal(t, `for=127.0.0.1;proto=https;host=localhost`, resp.Header.Get("X-Got-Forwarded"))
	assert.Equal(t, "1.1 gantry", resp.Header.Get("X-Got-Via"))
	assert.Empty(t, resp.Header.Get("X-Got-Connection"))
}

func TestTimeoutsIdle(t *testing.T) { forEachBackend(t, testTimeoutsIdle) }

func testTimeoutsIdle(t *testing.T, backend string) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, backend), nil)
	opts.Timeouts.KeepaliveIdle = time.Second
	opts.Timeouts.H2StreamIdle = time.Second
	_, addr := startProxy(t, opts)

	t.Run("keep-alive idle closes", func(t *testing.T) {
		c := rawTLS(t, addr)
		require.NoError(t, c.SetDeadline(time.Now().Add(15*time.Second)))
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		assert.Equal(t, 200, resp.StatusCode)
		_, err = br.ReadByte()
		assert.ErrorIs(t, err, io.EOF)
	})
	t.Run("h2 stream with an idle body is reset with CANCEL", func(t *testing.T) {
		fr, _ := h2Attacker(t, addr)
		block := requestBlock(t)
		block[0] = 0x83 // :method POST (static table index 3), not GET
		require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
		require.NoError(t, fr.WriteData(1, false, []byte("start")))
		// A well-behaved stream on the same connection is not touched.
		require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: requestBlock(t), EndHeaders: true, EndStream: true}))
		var rst *http2.RSTStreamFrame
		var status3 string
		dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
			if f.Name == ":status" && status3 == "" {
				status3 = f.Value
			}
		})
		for rst == nil {
			f, err := fr.ReadFrame()
			require.NoError(t, err, "no RST_STREAM for the idle stream")
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				rst = f
			case *http2.HeadersFrame:
				_, err := dec.Write(f.HeaderBlockFragment())
				require.NoError(t, err)
				assert.EqualValues(t, 3, f.StreamID, "the idle stream must get no response")
			case *http2.SettingsFrame:
				if !f.IsAck() {
					require.NoError(t, fr.WriteSettingsAck())
				}
			}
		}
		assert.EqualValues(t, 1, rst.StreamID)
		assert.Equal(t, http2.ErrCodeCancel, rst.ErrCode)
		assert.Equal(t, "200", status3)
	})
}

func TestNewValidation(t *testing.T) {
	missing := ""
	for _, n := range []string{"openssl", "boringssl"} {
		if _, err := gantrytls.Lookup(n); err != nil {
			missing = n
		}
	}
	require.NotEmpty(t, missing)
	o := newOrigin(t, nil, false, false)
	cases := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"missing backend names the tag", func(o *Options) { o.Listeners[0].TLS.Backend = missing }, "-tags " + missing},
		{"unknown upstream in route", func(o *Options) { o.Routes[0].Upstream = "nope" }, "not defined"},
		{"negative timeout", func(o *Options) { o.Timeouts.UpstreamRead = -1 }, "upstream_read"},
		{"bad balance", func(o *Options) { o.Upstreams["app"].Balance = "random" }, "balance"},
		{"bad wildcard", func(o *Options) { o.Routes[0].Host = "a.*.com" }, "wildcard"},
		{"upstream backend missing", func(o *Options) { o.Upstreams["app"].TLS = &UpstreamTLS{Backend: missing} }, "-tags " + missing},
		{"bad log format", func(o *Options) { o.AccessLog.Format = "xml" }, "format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := simpleOptions(t, o, serverTLS(t, ""), nil)
			tc.mod(&opts)
			if tc.name == "bad log format" {
				opts.AccessLog.Writer = io.Discard
			}
			_, err := New(opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAbsoluteFormAndMaxConns(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	opts.Limits.MaxConns = 1
	_, addr := startProxy(t, opts)

	c := rawTLS(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, "GET http://localhost/abs?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "hello GET /abs?q=1 ", string(body))

	// c is still open: a second connection is over the limit.
	_, err = client(t, false).Get("https://" + addr + "/")
	assert.Error(t, err, "a connection beyond MaxConns is closed on accept")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool {
		resp, err := client(t, false).Get("https://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
}

func TestCloseAbortsInFlight(t *testing.T) {
	accepted := make(chan struct{}, 4)
	up := rawOrigin(t, func(c net.Conn) {
		accepted <- struct{}{}
		_, _ = io.Copy(io.Discard, c) // never answers
	})
	for _, h2 := range []bool{false, true} {
		p, addr := startProxy(t, optionsTo(t, up))
		errc := make(chan error, 1)
		go func() {
			resp, err := client(t, h2).Get("https://" + addr + "/")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		<-accepted
		closed := make(chan struct{})
		go func() {
			_ = p.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Fatal("Close waited for the upstream timeout instead of aborting")
		}
		<-errc
	}
}

func TestUpstreamVerification(t *testing.T) {
	o := newOrigin(t, nil, true, false)
	cases := []struct {
		name   string
		mod    func(*UpstreamTLS)
		status int
	}{
		{"verified", func(*UpstreamTLS) {}, http.StatusOK},
		{"wrong name refused", func(u *UpstreamTLS) { u.ServerName = "wrong.gantry.test" }, http.StatusBadGateway},
		{"untrusted root refused", func(u *UpstreamTLS) { u.Config.RootCAs = nil }, http.StatusBadGateway},
		{"hostname check off", func(u *UpstreamTLS) {
			u.ServerName = "wrong.gantry.test"
			u.Config.DisableVerifyHostname = true
		}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := upstreamTLS(t, "")
			tc.mod(u)
			_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), u))
			resp, _ := get(t, client(t, false), "https://"+addr+"/")
			assert.Equal(t, tc.status, resp.StatusCode)
		})
	}
}

// TestConcurrent runs many requests at once over both protocols on both
// sides, for the race detector and the pools.
func TestConcurrent(t *testing.T) {
	plain := newOrigin(t, nil, false, false)
	h2o := newOrigin(t, nil, true, true)
	opts := Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{
			"plain": {Addrs: []string{addrOf(plain)}, Balance: BalanceLeastConn},
			"h2":    {Addrs: []string{addrOf(h2o)}, TLS: upstreamTLS(t, "", "h2", "http/1.1")},
		},
		Routes: []RouteOptions{{PathPrefix: "/h2/", Upstream: "h2"}, {Upstream: "plain"}},
	}
	_, addr := startProxy(t, opts)
	errs := make(chan error, 64)
	for w := range 8 {
		go func() {
			c := client(t, w%2 == 0)
			for i := range 25 {
				path := "/p/"
				if i%2 == 1 {
					path = "/h2/"
				}
				body := strings.Repeat("x", i*100)
				resp, err := c.Post("https://"+addr+path, "text/plain", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				if want := "hello POST " + path + " " + body; string(b) != want || resp.StatusCode != 200 {
					errs <- errors.New("unexpected response: " + resp.Status + " " + string(b[:min(len(b), 40)]))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		assert.NoError(t, <-errs)
	}
	assert.EqualValues(t, 8*13, plain.requests.Load())
	assert.EqualValues(t, 8*12, h2o.requests.Load())
}

func TestConnFilter(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	var hookSaw atomic.Int64
	cases := []struct {
		name   string
		filter ConnFilterOptions
		hook   func(net.Addr, string) bool
		served bool
	}{
		{"no filter", ConnFilterOptions{}, nil, true},
		{"allowed", ConnFilterOptions{Allow: []string{"127.0.0.0/8"}}, nil, true},
		{"not in allow list", ConnFilterOptions{Allow: []string{"10.0.0.0/8", "::1"}}, nil, false},
		{"denied", ConnFilterOptions{Deny: []string{"127.0.0.1"}}, nil, false},
		{"hook refuses", ConnFilterOptions{}, func(net.Addr, string) bool { hookSaw.Add(1); return false }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := simpleOptions(t, o, serverTLS(t, ""), nil)
			opts.Filter = tc.filter
			opts.Hooks.ConnectionFilter = tc.hook
			_, addr := startProxy(t, opts)
			resp, err := client(t, false).Get("https://" + addr + "/")
			if tc.served {
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			} else {
				assert.Error(t, err)
			}
		})
	}
	assert.EqualValues(t, 1, hookSaw.Load())

	t.Run("per-IP limit", func(t *testing.T) {
		opts := simpleOptions(t, o, serverTLS(t, ""), nil)
		opts.Filter.MaxConnsPerIP = 1
		_, addr := startProxy(t, opts)
		c := rawTLS(t, addr) // holds the one slot
		_, err := client(t, false).Get("https://" + addr + "/")
		assert.Error(t, err)
		require.NoError(t, c.Close())
		require.Eventually(t, func() bool {
			resp, err := client(t, false).Get("https://" + addr + "/")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		}, 10*time.Second, 50*time.Millisecond)
	})

	t.Run("bad CIDR is an error", func(t *testing.T) {
		opts := simpleOptions(t, o, serverTLS(t, ""), nil)
		opts.Filter.Deny = []string{"10.0.0.0/99"}
		_, err := New(opts)
		assert.Error(t, err)
	})
}

// TestEarlyUpstreamAnswer: an upstream that answers before reading the
// request body must not leave the body being read by the HTTP/2
// transport while the downstream connection moves on.
func TestEarlyUpstreamAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/early" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "fine")
	})
	for _, up := range []struct {
		name    string
		tls, h2 bool
	}{{"plain-h1", false, false}, {"tls-h2", true, true}} {
		t.Run(up.name, func(t *testing.T) {
			o := newOrigin(t, h, up.tls, up.h2)
			var utls *UpstreamTLS
			if up.tls {
				utls = upstreamTLS(t, "", "h2")
			}
			_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), utls))
			for _, h2 := range []bool{false, true} {
				c := client(t, h2)
				pr, pw := io.Pipe()
				go func() {
					chunk := []byte(strings.Repeat("z", 16<<10))
					for range 64 {
						if _, err := pw.Write(chunk); err != nil {
							return
						}
					}
					_ = pw.Close()
				}()
				resp, err := c.Post("https://"+addr+"/early", "application/octet-stream", pr)
				if err == nil {
					resp.Body.Close()
					assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
				}
				_ = pr.CloseWithError(errors.New("done"))
				resp, body := get(t, c, "https://"+addr+"/after")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "fine", body)
			}
		})
	}
}

func TestPeerAndErrorHooks(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	dead := deadAddr(t)
	opts.Hooks.UpstreamPeer = func(s *Session) (*Peer, error) {
		if s.Request.Path == "/dead" {
			return &Peer{Addr: dead, Group: "hook"}, nil
		}
		return &Peer{Addr: addrOf(o), Group: "hook"}, nil
	}
	opts.Hooks.ErrorResponse = func(s *Session, err error) int {
		if upstream.IsConnectError(err) {
			return http.StatusServiceUnavailable
		}
		return 0 // keep the default
	}
	_, addr := startProxy(t, opts)
	c := client(t, false)
	resp, body := get(t, c, "https://"+addr+"/live")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello GET /live ", body)
	resp, _ = get(t, c, "https://"+addr+"/dead")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// TestPoolDropsConnWithUnsolicitedBytes: an upstream that sends a second,
// unrequested response on an idle keep-alive connection must not have it
// delivered to the next request (response-queue poisoning).
func TestPoolDropsConnWithUnsolicitedBytes(t *testing.T) {
	firstRead := make(chan struct{})
	poisoned := make(chan struct{})
	var conns atomic.Int64
	up := rawOrigin(t, func(c net.Conn) {
		n := conns.Add(1)
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if n == 1 {
				<-firstRead
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
				close(poisoned)
			}
		}
	})
	_, addr := startProxy(t, optionsTo(t, up))
	c := client(t, false)
	_, body := get(t, c, "https://"+addr+"/one")
	require.Equal(t, "ok", body)
	close(firstRead)
	<-poisoned
	resp, body := get(t, c, "https://"+addr+"/two")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", body, "the unsolicited response must never reach a client")
	assert.EqualValues(t, 2, conns.Load(), "the poisoned connection is dropped, a fresh one dialled")
}

// A client that ends its side inside the body it announced gets 400: the
// fault is its own, not the upstream's (it used to be a 502).
func TestRequestBodyCutByClient(t *testing.T) { forEachBackend(t, testRequestBodyCutByClient) }

func testRequestBodyCutByClient(t *testing.T, backend string) {
	o := newOrigin(t, nil, false, false)
	_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, backend), nil))
	for name, req := range map[string]string{
		"content-length": "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789",
		"chunked":        "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := rawTLS(t, addr)
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			_, err := io.WriteString(c, req)
			require.NoError(t, err)
			require.NoError(t, c.CloseWrite())
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
	assert.Zero(t, o.requests.Load(), "no cut request completes at the origin")
}
