package upstream

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Group is a GroupOptions compiled: its servers with their health, the
// balancer that picks among them and the client that reaches them.
type Group struct {
	name     string
	balancer Balancer
	maxFails int32
	ejectFor time.Duration
	check    *HealthCheckOptions
	servers  []*Server
	next     atomic.Uint64 // rotates where a pick starts
	client   *Client
}

// Server is one server of a group with its load and health bookkeeping.
type Server struct {
	addr     string
	index    int
	group    *Group
	inflight atomic.Int64
	fails    atomic.Int32
	// ejectedUntil is a UnixNano time; zero when not ejected.
	ejectedUntil atomic.Int64
	// unhealthy is set by the active health check.
	unhealthy atomic.Bool
}

func newGroup(name string, o *GroupOptions, c *Client) (*Group, error) {
	b, err := NewBalancer(o.Balance)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	g := &Group{
		name:     name,
		balancer: b,
		maxFails: int32(o.Health.MaxFails),
		ejectFor: o.Health.EjectFor,
		check:    o.Health.Check,
		client:   c,
	}
	if g.maxFails == 0 {
		g.maxFails = DefaultMaxFails
	}
	if g.ejectFor == 0 {
		g.ejectFor = DefaultEjectFor
	}
	for i, addr := range o.Addrs {
		g.servers = append(g.servers, &Server{addr: addr, index: i, group: g})
	}
	return g, nil
}

// validate checks what NewGroup cannot default.
func (o *GroupOptions) validate(name string) error {
	if o == nil {
		return fmt.Errorf("upstream %q is nil", name)
	}
	if o.Name != "" && o.Name != name {
		return fmt.Errorf("upstream %q has Name %q", name, o.Name)
	}
	if len(o.Addrs) == 0 {
		return fmt.Errorf("upstream %q has no addresses", name)
	}
	for _, a := range o.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return fmt.Errorf("upstream %q address %q is not host:port", name, a)
		}
	}
	if _, err := NewBalancer(o.Balance); err != nil {
		return fmt.Errorf("upstream %q: %w", name, err)
	}
	if o.Health.EjectFor < 0 || o.IdleConnTimeout < 0 {
		return fmt.Errorf("upstream %q has a negative duration", name)
	}
	if hc := o.Health.Check; hc != nil {
		if !strings.HasPrefix(hc.Path, "/") {
			return fmt.Errorf("upstream %q health check path %q must start with /", name, hc.Path)
		}
		if hc.Interval < 0 || hc.Timeout < 0 || hc.ExpectStatus < 0 || hc.ExpectStatus > 999 {
			return fmt.Errorf("upstream %q health check has a negative or invalid value", name)
		}
	}
	if o.TLS != nil {
		for _, p := range o.TLS.Config.ALPN {
			if p != "h2" && p != "http/1.1" {
				return fmt.Errorf("upstream %q ALPN %q (want h2 and/or http/1.1)", name, p)
			}
		}
	}
	return nil
}

// Name is the group's name.
func (g *Group) Name() string { return g.name }

// Client reaches the group's servers.
func (g *Group) Client() *Client { return g.client }

// Servers are the group's servers in configuration order.
func (g *Group) Servers() []*Server { return g.servers }

// Choose picks a server: among the available ones by the group's
// balancer, or, when every server is ejected or unhealthy, any of them.
func (g *Group) Choose() *Server {
	now := time.Now().UnixNano()
	start := g.next.Add(1) - 1
	if s := g.balancer.Pick(g.servers, start, now); s != nil {
		return s
	}
	return g.servers[start%uint64(len(g.servers))]
}

// ChooseExcept picks an available server other than not, or nil.
func (g *Group) ChooseExcept(not *Server) *Server {
	now := time.Now().UnixNano()
	n := uint64(len(g.servers))
	start := g.next.Add(1) - 1
	for i := range n {
		if s := g.servers[(start+i)%n]; s != not && s.available(now) {
			return s
		}
	}
	return nil
}

// Addr is the server's "host:port".
func (s *Server) Addr() string { return s.addr }

// Index is the server's place in its group's Servers.
func (s *Server) Index() int { return s.index }

// Group is the group the server belongs to.
func (s *Server) Group() *Group { return s.group }

// InFlight is the number of requests the server is handling now.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

func (s *Server) available(now int64) bool {
	return !s.unhealthy.Load() && s.ejectedUntil.Load() <= now
}

// result records the outcome of one attempt for passive health checks.
// An ejection is reported when it starts and a recovery at the first
// success after it, once each, so an outage shows in the log without a
// line per request.
func (s *Server) result(err error) {
	g := s.group
	if err == nil {
		s.fails.Store(0)
		if u := s.ejectedUntil.Load(); u != 0 && s.ejectedUntil.CompareAndSwap(u, 0) {
			g.report(s, StateRecovered, nil)
		}
		return
	}
	if g.maxFails < 0 {
		return
	}
	if s.fails.Add(1) >= g.maxFails {
		s.fails.Store(0)
		if s.ejectedUntil.Swap(time.Now().Add(g.ejectFor).UnixNano()) == 0 {
			g.report(s, StateEjected, err)
		}
	}
}

// report tells the transport's OnServerState about s; a group made
// without a client (in tests) has nobody to tell.
func (g *Group) report(s *Server, st ServerState, reason error) {
	if g.client != nil && g.client.t != nil {
		g.client.t.serverState(g.name, s.addr, st, reason)
	}
}

// StartHealthChecks probes every server of the group in the background,
// when it has a check, until the transport's context ends; wg counts the
// probing goroutines.
func (g *Group) StartHealthChecks(wg *sync.WaitGroup) {
	if g.check == nil {
		return
	}
	for _, s := range g.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.healthLoop(s)
		}()
	}
}

// EjectedUntil is when the server's passive ejection ends; zero or past
// when it is not ejected.
func (s *Server) EjectedUntil() time.Time {
	if u := s.ejectedUntil.Load(); u != 0 {
		return time.Unix(0, u)
	}
	return time.Time{}
}

// Unhealthy reports whether the last active health check failed.
func (s *Server) Unhealthy() bool { return s.unhealthy.Load() }
