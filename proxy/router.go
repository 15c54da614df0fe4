package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// router is the default UpstreamPeer: the configured routes, each pointing
// at a group of servers with balancing and health.
type router struct {
	p      *Proxy
	groups map[string]*group
	routes []route
}

type route struct {
	exact    string // lower-case host, or ""
	suffix   string // ".example.com" for "*.example.com"
	prefix   string
	upstream *group
}

type group struct {
	name      string
	balance   string
	maxFails  int32
	ejectFor  time.Duration
	health    *HealthCheckOptions
	backends  []*backendState
	next      atomic.Uint64
	tlsClient *upstreamClient
}

// backendState is one server of a group with its health bookkeeping.
type backendState struct {
	peer     Peer
	inflight atomic.Int64
	fails    atomic.Int32
	// ejectedUntil is a UnixNano time; zero when not ejected.
	ejectedUntil atomic.Int64
	// unhealthy is set by the active health check.
	unhealthy atomic.Bool
}

// ErrNoRoute is returned (as a 404 StatusError) when no route matches.
var ErrNoRoute = errors.New("proxy: no route matches the request")

func newRouter(p *Proxy, groups map[string]*UpstreamGroupOptions, routes []RouteOptions) (*router, error) {
	r := &router{p: p, groups: make(map[string]*group, len(groups))}
	for name, g := range groups {
		if err := validateGroup(name, g); err != nil {
			return nil, err
		}
		cl, err := p.upstreams.newClient(g.TLS, g.MaxIdleConns, g.IdleConnTimeout)
		if err != nil {
			return nil, fmt.Errorf("proxy: upstream %q: %w", name, err)
		}
		grp := &group{
			name:      name,
			balance:   g.Balance,
			maxFails:  int32(g.MaxFails),
			ejectFor:  g.EjectFor,
			health:    g.HealthCheck,
			tlsClient: cl,
		}
		if grp.maxFails == 0 {
			grp.maxFails = DefaultMaxFails
		}
		if grp.ejectFor == 0 {
			grp.ejectFor = DefaultEjectFor
		}
		for _, addr := range g.Addrs {
			b := &backendState{peer: Peer{Addr: addr, TLS: g.TLS, Group: name, client: cl}}
			b.peer.backend = b
			grp.backends = append(grp.backends, b)
		}
		r.groups[name] = grp
	}
	for i, ro := range routes {
		if err := validateRoute(i, ro, groups); err != nil {
			return nil, err
		}
		rt := route{prefix: ro.PathPrefix, upstream: r.groups[ro.Upstream]}
		if h := strings.ToLower(ro.Host); strings.HasPrefix(h, "*.") {
			rt.suffix = h[1:]
		} else {
			rt.exact = h
		}
		r.routes = append(r.routes, rt)
	}
	return r, nil
}

func (rt *route) matches(host, path string) bool {
	switch {
	case rt.suffix != "":
		if !strings.HasSuffix(host, rt.suffix) || len(host) == len(rt.suffix) {
			return false
		}
	case rt.exact != "":
		if host != rt.exact {
			return false
		}
	}
	return strings.HasPrefix(path, rt.prefix)
}

// pick is the default UpstreamPeer hook.
func (r *router) pick(s *Session) (*Peer, error) {
	host := s.Host()
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.matches(host, s.Request.Path) {
			return rt.upstream.choose(), nil
		}
	}
	return nil, &StatusError{Status: http.StatusNotFound, Err: ErrNoRoute}
}

// choose picks a server: among the available ones by the group's policy,
// or, when every server is ejected or unhealthy, among all of them.
func (g *group) choose() *Peer {
	now := time.Now().UnixNano()
	n := uint64(len(g.backends))
	start := g.next.Add(1) - 1
	if g.balance == BalanceLeastConn {
		var best *backendState
		for i := range n {
			b := g.backends[(start+i)%n]
			if !b.available(now) {
				continue
			}
			if best == nil || b.inflight.Load() < best.inflight.Load() {
				best = b
			}
		}
		if best != nil {
			return &best.peer
		}
	} else {
		for i := range n {
			if b := g.backends[(start+i)%n]; b.available(now) {
				return &b.peer
			}
		}
	}
	return &g.backends[start%n].peer
}

// chooseExcept picks an available server other than not, or nil.
func (g *group) chooseExcept(not *backendState) *Peer {
	now := time.Now().UnixNano()
	n := uint64(len(g.backends))
	start := g.next.Add(1) - 1
	for i := range n {
		if b := g.backends[(start+i)%n]; b != not && b.available(now) {
			return &b.peer
		}
	}
	return nil
}

func (b *backendState) available(now int64) bool {
	return !b.unhealthy.Load() && b.ejectedUntil.Load() <= now
}

// result records the outcome of one attempt for passive health checks.
func (g *group) result(b *backendState, err error) {
	if err == nil {
		b.fails.Store(0)
		return
	}
	if g.maxFails < 0 {
		return
	}
	if b.fails.Add(1) >= g.maxFails {
		b.fails.Store(0)
		b.ejectedUntil.Store(time.Now().Add(g.ejectFor).UnixNano())
	}
}

func (r *router) groupOf(p *Peer) *group {
	if p == nil || p.backend == nil {
		return nil
	}
	return r.groups[p.Group]
}
