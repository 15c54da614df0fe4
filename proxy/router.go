package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

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
}

// group is an upstream group with the Peer of each of its servers, index
// for index: the peers the router hands out are shared between requests.
type group struct {
	g     *upstream.Group
	peers []Peer
}

func newRouter(t *upstream.Transport, groups map[string]*UpstreamGroupOptions, routes []RouteOptions) (*router, error) {
	r := &router{groups: make(map[string]*group, len(groups))}
	for name, o := range groups {
		g, err := t.NewGroup(name, o)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		grp := &group{g: g}
		for _, srv := range g.Servers() {
			grp.peers = append(grp.peers, Peer{Addr: srv.Addr(), TLS: o.TLS, Group: name, client: g.Client(), server: srv})
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
		return r.routes[i].upstream.choose(), nil
	}
	return nil, &StatusError{Status: http.StatusNotFound, Err: ErrNoRoute}
}

func (g *group) choose() *Peer { return &g.peers[g.g.Choose().Index()] }

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
	return &grp.peers[other.Index()]
}

// startHealthChecks starts every group's active health check.
func (r *router) startHealthChecks(wg *sync.WaitGroup) {
	for _, g := range r.groups {
		g.g.StartHealthChecks(wg)
	}
}
