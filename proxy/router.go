package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/canon"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// router is the default UpstreamPeer: the configured routes, each pointing
// at a group of servers with balancing and health.
type router struct {
	groups map[string]*group
	routes []route
	index  *routeIndex
}

type route struct {
	exact    string // lower-case host, or ""
	suffix   string // ".example.com" for "*.example.com"
	prefix   string
	upstream *group
	identity *mtls.Policy // nil: the listener's rules only
	forward  mtls.Forward
}

// group is an upstream group. Each of its servers carries its Peer
// (Server.Attached), made once when the server joins: the peers the router
// hands out are shared between requests.
type group struct {
	g *upstream.Group
}

// newRouter compiles the groups and routes, and resolves every group's
// names once (in parallel, each query bounded by server.dns.timeout), so
// that the proxy starts with its servers.
func newRouter(ctx context.Context, t *upstream.Transport, groups map[string]*UpstreamGroupOptions, routes []RouteOptions) (*router, error) {
	r := &router{groups: make(map[string]*group, len(groups))}
	for name, o := range groups {
		tlsOpts := o.TLS
		g, err := t.NewGroup(name, o, func(s *upstream.Server) any {
			return &Peer{Addr: s.Addr(), TLS: tlsOpts, Group: name, client: s.Group().Client(), server: s}
		})
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		r.groups[name] = &group{g: g}
	}
	var wg sync.WaitGroup
	for _, g := range r.groups {
		wg.Go(func() { g.g.Resolve(ctx) })
	}
	wg.Wait()
	for i, ro := range routes {
		if err := validateRoute(i, ro, groups); err != nil {
			return nil, err
		}
		rt := route{prefix: ro.PathPrefix, upstream: r.groups[ro.Upstream], forward: ro.ClientIdentity.Forward}
		rt.identity, _ = mtls.Compile(ro.ClientIdentity.Allow) // validateRoute checked it
		if h := strings.ToLower(ro.Host); strings.HasPrefix(h, "*.") {
			rt.suffix = h[1:]
		} else {
			rt.exact = h
		}
		r.routes = append(r.routes, rt)
	}
	r.index = newRouteIndex(r.routes)
	return r, nil
}

func validateRoute(i int, r RouteOptions, groups map[string]*UpstreamGroupOptions) error {
	if r.Upstream == "" {
		return fmt.Errorf("proxy: route %d has no upstream", i)
	}
	if _, ok := groups[r.Upstream]; !ok {
		return fmt.Errorf("proxy: route %d names upstream %q, which is not defined", i, r.Upstream)
	}
	if h := r.Host; h != "" {
		if strings.Contains(h[1:], "*") || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) {
			return fmt.Errorf("proxy: route %d host %q: only a leading \"*.\" wildcard is allowed", i, h)
		}
	}
	if err := r.ClientIdentity.Validate(); err != nil {
		return fmt.Errorf("proxy: route %d client_identity.%w", i, err)
	}
	if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
		return fmt.Errorf("proxy: route %d path prefix %q must start with /", i, r.PathPrefix)
	}
	if r.PathPrefix != "" {
		// Requests are matched in canonical form, so a prefix in another
		// spelling could never match, or not what it says.
		var strict canon.Policy
		c, err := canon.Path(r.PathPrefix, &strict)
		if err != nil {
			return fmt.Errorf("proxy: route %d path prefix %q: %w", i, r.PathPrefix, err)
		}
		if c != r.PathPrefix {
			return fmt.Errorf("proxy: route %d path prefix %q is not canonical: requests are matched as %q", i, r.PathPrefix, c)
		}
	}
	return nil
}

// matches is the first-match reading of one route, which the index must
// agree with (the tests compare them).
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
	path, _, _ := strings.Cut(s.Request.Path, "?")
	if i := r.index.lookup(s.Host(), path); i >= 0 {
		rt := &r.routes[i]
		s.route = rt
		if reason := rt.identity.Check(s.Downstream.peer.leafOrNil()); reason != "" {
			return nil, &StatusError{Status: http.StatusForbidden, Err: &identityRefusal{reason: reason}}
		}
		if peer := rt.upstream.choose(); peer != nil {
			return peer, nil
		}
		return nil, &StatusError{Status: http.StatusBadGateway, Err: ErrNoServers}
	}
	return nil, &StatusError{Status: http.StatusNotFound, Err: ErrNoRoute}
}

func (g *group) choose() *Peer {
	s := g.g.Choose()
	if s == nil {
		return nil
	}
	return s.Attached().(*Peer)
}

// another picks an available server of peer's group other than peer, for
// a request that could not reach peer; nil when there is none, or peer is
// no group's.
func (r *router) another(peer *Peer) *Peer {
	if peer.server == nil {
		return nil
	}
	grp := r.groups[peer.server.Group().Name()]
	if grp == nil || grp.g != peer.server.Group() {
		return nil
	}
	other := grp.g.ChooseExcept(peer.server)
	if other == nil {
		return nil
	}
	return other.Attached().(*Peer)
}

// start starts every group's active health checks and the resolution of
// its names, until the proxy's context ends.
func (r *router) start(wg *sync.WaitGroup) {
	for _, g := range r.groups {
		g.g.Start(wg)
	}
}
