package upstream

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// Timeouts are the upstream ones of the proxy's Timeouts, every one set.
type Timeouts struct {
	Connect        time.Duration // TCP connect
	TLSHandshake   time.Duration
	ResponseHeader time.Duration // request sent → response head
	Read           time.Duration // response body idle
	Write          time.Duration // each write of the request
}

// Settings is what every client of a Transport shares.
type Settings struct {
	Timeouts Timeouts
	// MaxHeaderBytes is the downstream limit on a request head; HTTP/2
	// servers may send heads four times that size.
	MaxHeaderBytes int
	// OnAttemptError, when set, is told about every failed attempt (the
	// one retried included), for metrics and logs.
	OnAttemptError func(group, addr string, attempt int, err error)
	// OnServerState, when set, is told once when a server changes state:
	// ejected by passive health checking, back after an ejection, failing
	// or passing its active health check. reason says why (the error).
	OnServerState func(group, addr string, state ServerState, reason error)
	// DNS is how groups' host names and SRV records are resolved.
	DNS DNSOptions
	// OnResolve, when set, is told about every background resolution of a
	// group's names.
	OnResolve func(ResolveEvent)
}

// ServerState is what OnServerState reports.
type ServerState string

// Server states.
const (
	StateEjected   ServerState = "ejected"
	StateRecovered ServerState = "recovered"
	StateUnhealthy ServerState = "unhealthy"
	StateHealthy   ServerState = "healthy"
)

func (t *Transport) serverState(g, addr string, st ServerState, reason error) {
	if f := t.set.OnServerState; f != nil {
		f(g, addr, st, reason)
	}
}

// Transport owns every compiled upstream TLS client and their pools, and
// closes idle connections in the background until its context ends.
type Transport struct {
	ctx context.Context
	set Settings
	dns DNSOptions // set.DNS with its defaults
	res resolver

	mu      sync.Mutex
	clients []*Client
	byTLS   map[*TLS]*Client // for peers made by hooks
	plain   *Client
	janitor sync.Once
}

// NewTransport makes a transport; ctx ends every exchange, the pool
// sweeper and the groups' background work when done. set.DNS must have
// passed Validate.
func NewTransport(ctx context.Context, set Settings) *Transport {
	t := &Transport{ctx: ctx, set: set, byTLS: make(map[*TLS]*Client), dns: set.DNS.withDefaults()}
	if len(t.dns.Resolvers) > 0 {
		t.res = &dnsClient{servers: t.dns.Resolvers, timeout: t.dns.Timeout}
	} else {
		t.res = timedResolver{systemResolver{net.DefaultResolver}, t.dns.Timeout}
	}
	return t
}

// ClientFor returns the client for a peer that is not a group's (one an
// UpstreamPeer hook made), compiling its TLS settings on first use: peers
// with the same *TLS share a client and its pools.
func (t *Transport) ClientFor(tlsOpts *TLS) (*Client, error) {
	t.mu.Lock()
	if tlsOpts == nil && t.plain != nil {
		defer t.mu.Unlock()
		return t.plain, nil
	}
	if c, ok := t.byTLS[tlsOpts]; ok && tlsOpts != nil {
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	c, err := t.NewClient(tlsOpts, 0, 0)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tlsOpts == nil {
		if t.plain == nil {
			t.plain = c
		}
		return t.plain, nil
	}
	t.byTLS[tlsOpts] = c
	return c, nil
}

// sweep closes pooled connections idle longer than their client allows.
func (t *Transport) sweep() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		clients := slices.Clone(t.clients)
		t.mu.Unlock()
		now := time.Now()
		for _, c := range clients {
			c.prune(now)
		}
	}
}

// Close closes every pooled connection and compiled TLS client.
func (t *Transport) Close() {
	t.mu.Lock()
	clients := t.clients
	t.clients = nil
	t.mu.Unlock()
	for _, c := range clients {
		c.closeAll()
		if c.tls != nil {
			_ = c.tls.Close()
		}
	}
}

// NewGroup validates o and compiles it into a group with its own client;
// name is the group's key in the configuration. attach, when set, is
// called for each server as it joins the group, before any request can
// choose it; Server.Attached returns what it made. The group's names are
// not resolved yet: see Resolve and Start.
func (t *Transport) NewGroup(name string, o *GroupOptions, attach func(*Server) any) (*Group, error) {
	if err := o.validate(name); err != nil {
		return nil, err
	}
	c, err := t.NewClient(o.TLS, o.MaxIdleConns, o.IdleConnTimeout)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	return newGroup(name, o, c, attach)
}
