package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Client is one upstream TLS configuration compiled (or plain HTTP) with
// the pools of connections made with it, per server address.
type Client struct {
	t           *Transport
	tls         gantrytls.Client // nil for plain HTTP
	backend     string
	serverName  string
	maxIdle     int
	idleTimeout time.Duration
	h2          *h2Transport // nil unless "h2" is offered

	mu    sync.Mutex
	pools map[string]*hostPool
	// hosts are the names servers' addresses were resolved from, sent as
	// SNI when no server_name is set.
	hosts map[string]string
	// retired are servers that left their group, with when: their
	// connections are closed once idle instead of pooled. An entry is
	// forgotten after the idle timeout, so addresses that come and go do
	// not grow the table; a connection busy for longer is pooled at the
	// end and then closed by the idle timeout as any other.
	retired map[string]time.Time
}

// NewClient compiles tlsOpts (nil: plain HTTP) into a client with its own
// pools; zero maxIdle and idleTimeout mean the defaults.
func (t *Transport) NewClient(tlsOpts *TLS, maxIdle int, idleTimeout time.Duration) (*Client, error) {
	if maxIdle == 0 {
		maxIdle = DefaultMaxIdleConns
	}
	if idleTimeout == 0 {
		idleTimeout = DefaultIdleConnTimeout
	}
	c := &Client{t: t, maxIdle: maxIdle, idleTimeout: idleTimeout, pools: make(map[string]*hostPool), hosts: make(map[string]string), retired: make(map[string]time.Time)}
	if tlsOpts != nil {
		cl, name, alpn, err := compileTLS(tlsOpts, t.set.Timeouts.TLSHandshake)
		if err != nil {
			return nil, err
		}
		c.tls, c.backend, c.serverName = cl, name, tlsOpts.ServerName
		if slices.Contains(alpn, "h2") {
			c.h2 = newH2Transport(t.set.Timeouts.Write, 4*t.set.MaxHeaderBytes)
		}
	}
	t.mu.Lock()
	t.clients = append(t.clients, c)
	t.mu.Unlock()
	t.janitor.Do(func() { go t.sweep() })
	return c, nil
}

// admit readies the client for a server joining its group: host is the
// name its address came from (empty for an IP address).
func (c *Client) admit(addr, host string) {
	c.mu.Lock()
	delete(c.retired, addr)
	if host != "" {
		c.hosts[addr] = host
	}
	c.mu.Unlock()
}

// retire drains a server that left its group: its idle connections close
// now, busy ones when their exchange ends (HTTP/1.1) or their last stream
// does (HTTP/2, at the next sweep).
func (c *Client) retire(addr string) {
	c.mu.Lock()
	c.retired[addr] = time.Now()
	delete(c.hosts, addr)
	c.mu.Unlock()
	c.prune(time.Now())
}

// sniFor is the name sent as SNI to addr.
func (c *Client) sniFor(addr string) string {
	if c.serverName != "" {
		return c.serverName
	}
	c.mu.Lock()
	h := c.hosts[addr]
	c.mu.Unlock()
	if h == "" {
		h, _, _ = net.SplitHostPort(addr)
	}
	return h
}

// compileTLS is the one place an upstream TLS client is built, so that a
// client which swaps its compiled configuration on reload can take its
// place. It returns the backend's name and the ALPN list offered.
func compileTLS(o *TLS, handshake time.Duration) (gantrytls.Client, string, []string, error) {
	b, err := gantrytls.Lookup(o.Backend)
	if err != nil {
		return nil, "", nil, err
	}
	cfg := o.Config
	if len(cfg.ALPN) == 0 {
		cfg.ALPN = []string{"http/1.1"}
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = handshake
	}
	var cl gantrytls.Client
	if o.Files.Empty() {
		cl, err = b.NewClient(&cfg)
	} else {
		cl, err = certs.NewClient(b, cfg, o.Files)
	}
	if err != nil {
		return nil, "", nil, err
	}
	return cl, b.Name(), cfg.ALPN, nil
}

// Target is where a request goes: an address, the group name it is
// reported under, and the group's server it is, if it is one (nil for a
// peer an UpstreamPeer hook made), whose load and health it updates.
type Target struct {
	Addr   string
	Group  string
	Server *Server
}

// RoundTrip sends req to t and returns the response head, retrying once on
// a new connection when the first attempt failed before the server could
// have processed the request (see errUnsent) and the request is
// idempotent.
func (c *Client) RoundTrip(req *Request, t Target) (*Response, error) {
	if t.Server != nil {
		t.Server.inflight.Add(1)
		defer t.Server.inflight.Add(-1)
	}
	for attempt := 0; ; attempt++ {
		resp, sent, err := c.attempt(req, t.Addr, attempt > 0)
		if err == nil {
			if t.Server != nil {
				t.Server.result(nil)
			}
			return resp, nil
		}
		if t.Server != nil && (IsConnectError(err) || errors.Is(err, ErrTimeout)) {
			t.Server.result(err)
		}
		if f := c.t.set.OnAttemptError; f != nil {
			f(t.Group, t.Addr, attempt, err)
		}
		if attempt > 0 || sent || !idempotent(req.Method) || !errors.Is(err, errUnsent) {
			return nil, err
		}
	}
}

// idempotent requests may be sent again after a failure that happened
// before any of their bytes reached the server.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// attempt runs one exchange; fresh skips the pool. sent reports whether
// the request cannot be sent again: part of its body was consumed, or it
// may have reached the server.
func (c *Client) attempt(req *Request, addr string, fresh bool) (*Response, bool, error) {
	var h1c *h1Conn
	var h2c *h2Client
	if !fresh {
		h1c, h2c = c.pooled(addr)
	}
	reused := h1c != nil || h2c != nil
	if req.Upgrade && h2c != nil {
		h2c = nil
	}
	if h1c == nil && h2c == nil {
		var err error
		h1c, h2c, err = c.dial(req.ctx(c.t.ctx), addr)
		if err != nil {
			return nil, false, err
		}
		if req.Upgrade && h2c != nil {
			return nil, false, errors.New("upstream speaks HTTP/2 only; WebSocket needs HTTP/1.1")
		}
	}
	if h2c != nil {
		resp, err := c.roundTripH2(req, h2c)
		return resp, err != nil && !errors.Is(err, errUnsent), err
	}
	return c.roundTripH1(req, addr, h1c, reused)
}

// ctx is the request's context, or base when it has none.
func (r *Request) ctx(base context.Context) context.Context {
	if r.Context != nil {
		return r.Context
	}
	return base
}
