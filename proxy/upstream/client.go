package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// upstreams owns every compiled upstream TLS client and their pools.
type upstreams struct {
	p       *Proxy
	mu      sync.Mutex
	clients []*upstreamClient
	byTLS   map[*UpstreamTLS]*upstreamClient // for peers made by hooks
	plain   *upstreamClient
	janitor sync.Once
}

func newUpstreams(p *Proxy) *upstreams {
	return &upstreams{p: p, byTLS: make(map[*UpstreamTLS]*upstreamClient)}
}

// upstreamClient is one upstream TLS configuration compiled (or plain HTTP)
// with the pools of connections made with it, per server address.
type upstreamClient struct {
	p           *Proxy
	tls         gantrytls.Client // nil for plain HTTP
	backend     string
	serverName  string
	maxIdle     int
	idleTimeout time.Duration
	h2          *h2Transport

	mu    sync.Mutex
	pools map[string]*hostPool
}

// hostPool holds the reusable connections to one server.
type hostPool struct {
	idle []*h1Conn // most recently used last
	h2   []*h2Conn
}

func (u *upstreams) newClient(t *UpstreamTLS, maxIdle int, idleTimeout time.Duration) (*upstreamClient, error) {
	if maxIdle == 0 {
		maxIdle = DefaultMaxIdleConns
	}
	if idleTimeout == 0 {
		idleTimeout = DefaultIdleConnTimeout
	}
	c := &upstreamClient{p: u.p, maxIdle: maxIdle, idleTimeout: idleTimeout, pools: make(map[string]*hostPool)}
	if t != nil {
		name := t.Backend
		if name == "" {
			name = "gostd"
		}
		b, err := gantrytls.Lookup(name)
		if err != nil {
			return nil, err
		}
		cfg := t.Config
		if len(cfg.ALPN) == 0 {
			cfg.ALPN = []string{"http/1.1"}
		}
		if cfg.HandshakeTimeout == 0 {
			cfg.HandshakeTimeout = u.p.timeouts.UpstreamTLSHandshake
		}
		cl, err := b.NewClient(&cfg)
		if err != nil {
			return nil, err
		}
		c.tls, c.backend, c.serverName = cl, b.Name(), t.ServerName
		if slices.Contains(cfg.ALPN, "h2") {
			c.h2 = newH2Transport(u.p.timeouts.UpstreamWrite, 4*u.p.limits.MaxHeaderBytes)
		}
	}
	u.mu.Lock()
	u.clients = append(u.clients, c)
	u.mu.Unlock()
	u.janitor.Do(func() { go u.sweep() })
	return c, nil
}

// clientFor returns the client of a peer, compiling a hook-made peer's TLS
// settings on first use.
func (u *upstreams) clientFor(peer *Peer) (*upstreamClient, error) {
	if peer.client != nil {
		return peer.client, nil
	}
	u.mu.Lock()
	if peer.TLS == nil && u.plain != nil {
		defer u.mu.Unlock()
		return u.plain, nil
	}
	if c, ok := u.byTLS[peer.TLS]; ok && peer.TLS != nil {
		u.mu.Unlock()
		return c, nil
	}
	u.mu.Unlock()
	c, err := u.newClient(peer.TLS, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream TLS for %s: %w", peer.Addr, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if peer.TLS == nil {
		if u.plain == nil {
			u.plain = c
		}
		return u.plain, nil
	}
	u.byTLS[peer.TLS] = c
	return c, nil
}

// sweep closes pooled connections idle longer than their client allows.
func (u *upstreams) sweep() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-u.p.ctx.Done():
			return
		case <-t.C:
		}
		u.mu.Lock()
		clients := slices.Clone(u.clients)
		u.mu.Unlock()
		now := time.Now()
		for _, c := range clients {
			c.prune(now)
		}
	}
}

func (u *upstreams) close() {
	u.mu.Lock()
	clients := u.clients
	u.clients = nil
	u.mu.Unlock()
	for _, c := range clients {
		c.closeAll()
		if c.tls != nil {
			_ = c.tls.Close()
		}
	}
}

func (c *upstreamClient) prune(now time.Time) {
	var stale []io.Closer
	c.mu.Lock()
	for addr, hp := range c.pools {
		kept := hp.idle[:0]
		for _, ic := range hp.idle {
			if now.Sub(ic.idleSince) > c.idleTimeout {
				stale = append(stale, ic.c)
			} else {
				kept = append(kept, ic)
			}
		}
		clear(hp.idle[len(kept):])
		hp.idle = kept
		h2kept := hp.h2[:0]
		for _, hc := range hp.h2 {
			if hc.cc.State().Closed || (hc.cc.State().StreamsActive == 0 && now.Sub(hc.lastIdle()) > c.idleTimeout) {
				stale = append(stale, hc.cc)
			} else {
				h2kept = append(h2kept, hc)
			}
		}
		clear(hp.h2[len(h2kept):])
		hp.h2 = h2kept
		if len(hp.idle) == 0 && len(hp.h2) == 0 {
			delete(c.pools, addr)
		}
	}
	c.mu.Unlock()
	for _, s := range stale {
		_ = s.Close()
	}
}

func (c *upstreamClient) closeAll() {
	c.mu.Lock()
	pools := c.pools
	c.pools = make(map[string]*hostPool)
	c.mu.Unlock()
	for _, hp := range pools {
		for _, ic := range hp.idle {
			_ = ic.c.Close()
		}
		for _, hc := range hp.h2 {
			_ = hc.cc.Close()
		}
	}
}

// pooled returns a reusable connection to addr: an HTTP/2 connection that
// can take another stream, or the most recently idle HTTP/1.1 one.
func (c *upstreamClient) pooled(addr string) (h1c *h1Conn, h2c *h2Conn) {
	now := time.Now()
	for {
		ic, h2c := c.take(addr, now)
		if ic == nil {
			return nil, h2c
		}
		// The peek is a syscall: it runs outside the pool's lock.
		if ic.quiet() {
			return ic, nil
		}
		go ic.c.Close()
	}
}

// take removes the most recently idle HTTP/1.1 connection that is not
// past its idle limit from addr's pool, or finds an HTTP/2 one that can
// take another stream.
func (c *upstreamClient) take(addr string, now time.Time) (*h1Conn, *h2Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hp := c.pools[addr]
	if hp == nil {
		return nil, nil
	}
	for _, hc := range hp.h2 {
		if hc.cc.CanTakeNewRequest() {
			return nil, hc
		}
	}
	for len(hp.idle) > 0 {
		ic := hp.idle[len(hp.idle)-1]
		hp.idle[len(hp.idle)-1] = nil
		hp.idle = hp.idle[:len(hp.idle)-1]
		if now.Sub(ic.idleSince) <= c.idleTimeout {
			return ic, nil
		}
		go ic.c.Close()
	}
	return nil, nil
}

// putIdle returns an HTTP/1.1 connection whose exchange ended cleanly.
func (c *upstreamClient) putIdle(addr string, ic *h1Conn) {
	if c.maxIdle < 0 || c.p.ctx.Err() != nil {
		_ = ic.c.Close()
		return
	}
	ic.idleSince = time.Now()
	c.mu.Lock()
	hp := c.pools[addr]
	if hp == nil {
		hp = &hostPool{}
		c.pools[addr] = hp
	}
	if len(hp.idle) >= c.maxIdle {
		c.mu.Unlock()
		_ = ic.c.Close()
		return
	}
	hp.idle = append(hp.idle, ic)
	c.mu.Unlock()
}

func (c *upstreamClient) putH2(addr string, hc *h2Conn) {
	c.mu.Lock()
	hp := c.pools[addr]
	if hp == nil {
		hp = &hostPool{}
		c.pools[addr] = hp
	}
	hp.h2 = append(hp.h2, hc)
	c.mu.Unlock()
}

// errUpstreamConnect marks failures to reach a server (TCP or TLS): nothing
// was sent, so any request may be retried elsewhere.
type upstreamConnectError struct {
	addr string
	err  error
}

func (e *upstreamConnectError) Error() string {
	return fmt.Sprintf("proxy: connect to upstream %s: %v", e.addr, e.err)
}
func (e *upstreamConnectError) Unwrap() error { return e.err }

// dial opens a new connection to addr: TCP within UpstreamConnect, then TLS
// within UpstreamTLSHandshake. An "h2" ALPN result gives an HTTP/2
// connection, which is pooled at once for other requests to share.
func (c *upstreamClient) dial(ctx context.Context, addr string) (*h1Conn, *h2Conn, error) {
	t := &c.p.timeouts
	d := net.Dialer{Timeout: t.UpstreamConnect, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, &upstreamConnectError{addr, err}
	}
	if c.tls == nil {
		return newH1Conn(raw, raw), nil, nil
	}
	sni := c.serverName
	if sni == "" {
		sni, _, _ = net.SplitHostPort(addr)
	}
	tc := c.tls.Client(raw, sni)
	hctx, cancel := context.WithTimeout(ctx, t.UpstreamTLSHandshake)
	_ = tc.SetDeadline(time.Now().Add(t.UpstreamTLSHandshake))
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		_ = tc.Close()
		return nil, nil, &upstreamConnectError{addr, fmt.Errorf("TLS (%s): %w", c.backend, err)}
	}
	_ = tc.SetDeadline(time.Time{})
	if tc.ConnectionState().NegotiatedProtocol == "h2" && c.h2 != nil {
		cc, err := newH2ClientConn(c.h2, tc)
		if err != nil {
			_ = tc.Close()
			return nil, nil, &upstreamConnectError{addr, fmt.Errorf("HTTP/2: %w", err)}
		}
		hc := &h2Conn{cc: cc}
		hc.touch()
		c.putH2(addr, hc)
		return nil, hc, nil
	}
	return newH1Conn(tc, raw), nil, nil
}
