package upstream

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Group is a GroupOptions compiled: its servers with their health, the
// balancer that picks among them and the client that reaches them. The
// set of servers changes when the names it was given resolve to other
// addresses; a request sees one set, swapped atomically.
type Group struct {
	name     string
	balancer Balancer
	wheel    bool // the balancer takes turns: give it servers by weight
	maxFails int32
	ejectFor time.Duration
	check    *HealthCheckOptions
	client   *Client
	attach   func(*Server) any
	next     atomic.Uint64 // rotates where a pick starts
	set      atomic.Pointer[serverSet]

	static []entry    // IP-literal addresses: never resolved
	names  []hostPort // host-name addresses, resolved in the background
	srv    string

	mu       sync.Mutex // serializes changes of the set
	byAddr   map[string]*Server
	healthWG *sync.WaitGroup // set by Start: servers that join get a health loop
	due      time.Time       // next resolution
	fails    int             // failed or empty resolutions in a row
	resolved bool            // a resolution gave servers at least once
}

// entry is one server address a resolution gave.
type entry struct {
	addr     string // ip:port, or an address as configured
	host     string // the name it came from, for SNI; empty for IP literals
	priority uint16
	weight   uint16
}

type hostPort struct {
	host string
	port uint16
}

// serverSet is a group's servers at one time: every member, and the
// members by priority (lowest value first) with their weighted turns.
type serverSet struct {
	all   []*Server
	tiers []tier
}

type tier struct {
	members []*Server
	wheel   []*Server // members repeated by weight, interleaved
}

// Server is one server of a group with its load and health bookkeeping.
type Server struct {
	addr     string
	host     string
	index    atomic.Int32
	weight   atomic.Int32
	group    *Group
	attached any
	inflight atomic.Int64
	fails    atomic.Int32
	// ejectedUntil is a UnixNano time; zero when not ejected.
	ejectedUntil atomic.Int64
	// unhealthy is set by the active health check.
	unhealthy atomic.Bool
	// stop ends the server's health loop; guarded by the group's mu.
	stop context.CancelFunc
	gone atomic.Bool
}

func newGroup(name string, o *GroupOptions, c *Client, attach func(*Server) any) (*Group, error) {
	b, err := NewBalancer(o.Balance)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	_, rr := b.(roundRobin)
	g := &Group{
		name:     name,
		balancer: b,
		wheel:    rr,
		maxFails: int32(o.Health.MaxFails),
		ejectFor: o.Health.EjectFor,
		check:    o.Health.Check,
		client:   c,
		attach:   attach,
		srv:      strings.TrimSuffix(o.SRV, "."),
		byAddr:   make(map[string]*Server),
	}
	if g.maxFails == 0 {
		g.maxFails = DefaultMaxFails
	}
	if g.ejectFor == 0 {
		g.ejectFor = DefaultEjectFor
	}
	for _, addr := range o.Addrs {
		host, port, _ := net.SplitHostPort(addr)
		if _, err := netip.ParseAddr(host); err == nil || host == "" {
			g.static = append(g.static, entry{addr: addr, weight: 1})
			continue
		}
		n, _ := strconv.ParseUint(port, 10, 16)
		g.names = append(g.names, hostPort{host: strings.TrimSuffix(host, "."), port: uint16(n)})
	}
	g.set.Store(&serverSet{})
	g.apply(nil)
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
	if len(o.Addrs) == 0 && o.SRV == "" {
		return fmt.Errorf("upstream %q has no addresses", name)
	}
	for _, a := range o.Addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil || port == "" {
			return fmt.Errorf("upstream %q address %q is not host:port", name, a)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("upstream %q address %q has an invalid port", name, a)
		}
	}
	if o.SRV != "" && strings.ContainsAny(o.SRV, ": /") {
		return fmt.Errorf("upstream %q srv %q is not a DNS name", name, o.SRV)
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

// Servers are the group's servers now: IP addresses in configuration
// order, then what names resolved to, by priority.
func (g *Group) Servers() []*Server { return g.set.Load().all }

// candidates are the servers of t the balancer picks from.
func (g *Group) candidates(t *tier) []*Server {
	if g.wheel {
		return t.wheel
	}
	return t.members
}

// Choose picks a server: by the group's balancer among the available ones
// of the lowest priority that has any, or, when every server is ejected
// or unhealthy, any of the lowest priority. It is nil when the group has
// no server (its names never resolved).
func (g *Group) Choose() *Server {
	set := g.set.Load()
	if len(set.tiers) == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	start := g.next.Add(1) - 1
	for i := range set.tiers {
		if s := g.balancer.Pick(g.candidates(&set.tiers[i]), start, now); s != nil {
			return s
		}
	}
	c := g.candidates(&set.tiers[0])
	return c[start%uint64(len(c))]
}

// ChooseExcept picks an available server other than not, lowest priority
// first, or nil.
func (g *Group) ChooseExcept(not *Server) *Server {
	set := g.set.Load()
	now := time.Now().UnixNano()
	start := g.next.Add(1) - 1
	for _, t := range set.tiers {
		n := uint64(len(t.members))
		for i := range n {
			if s := t.members[(start+i)%n]; s != not && s.available(now) {
				return s
			}
		}
	}
	return nil
}

// Addr is the server's "host:port": the IP address a name resolved to, or
// the address as configured.
func (s *Server) Addr() string { return s.addr }

// Host is the name the server's address was resolved from (an address's
// host name or an SRV target); empty for an IP address.
func (s *Server) Host() string { return s.host }

// Index is the server's place in its group's Servers.
func (s *Server) Index() int { return int(s.index.Load()) }

// Group is the group the server belongs to.
func (s *Server) Group() *Group { return s.group }

// Attached is what the group's attach function made for the server.
func (s *Server) Attached() any { return s.attached }

// InFlight is the number of requests the server is handling now.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

// Gone reports whether the server left its group (its name no longer
// resolves to it).
func (s *Server) Gone() bool { return s.gone.Load() }

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

// Start runs the group's background work until the transport's context
// ends: the active health check of every server, when the group has one,
// and the resolution of its names, when it has any. wg counts the
// goroutines.
func (g *Group) Start(wg *sync.WaitGroup) {
	g.mu.Lock()
	g.healthWG = wg
	for _, s := range g.set.Load().all {
		g.startHealth(s)
	}
	g.mu.Unlock()
	if g.resolves() && g.client != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.dnsLoop(g.client.t.ctx)
		}()
	}
}

// startHealth starts s's health loop once Start was called; g.mu is held.
func (g *Group) startHealth(s *Server) {
	if g.check == nil || g.healthWG == nil || s.stop != nil || g.client == nil || g.client.t.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(g.client.t.ctx)
	s.stop = cancel
	g.healthWG.Add(1)
	go func() {
		defer g.healthWG.Done()
		g.healthLoop(ctx, s)
	}()
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
