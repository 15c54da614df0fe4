package upstream

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Results of a resolution, as ResolveEvent.Result and the metric's label.
const (
	ResolveOK      = "ok"      // the same servers as before
	ResolveChanged = "changed" // servers joined or left
	ResolveEmpty   = "empty"   // no address at all: the last servers are kept
	ResolveError   = "error"   // a query failed or timed out: the last servers are kept
)

// ResolveEvent is one background resolution of a group's names.
type ResolveEvent struct {
	Group  string
	Result string
	// Added and Removed are the addresses that joined and left the group.
	Added, Removed []string
	// Servers is how many servers the group has now.
	Servers int
	// Err is why the resolution failed (Result "error").
	Err error
	// Next is when the names are resolved again.
	Next time.Duration
}

// resolves reports whether the group has names to resolve.
func (g *Group) resolves() bool { return len(g.names) > 0 || g.srv != "" }

// Resolve resolves the group's names once and applies the answer: servers
// that appeared join, servers that disappeared leave. A failed or empty
// answer keeps the servers the group has. New resolves every group once
// before it returns, so that a proxy starts with its servers; the loop
// Start runs does the rest.
func (g *Group) Resolve(ctx context.Context) {
	if !g.resolves() || g.client == nil {
		return
	}
	t := g.client.t
	entries, ttl, err := g.lookup(ctx, t.res)
	if ctx.Err() != nil {
		return // stopping: nothing to report
	}
	ev := ResolveEvent{Group: g.name}
	o := &t.dns
	switch {
	case err != nil:
		ev.Result, ev.Err = ResolveError, err
	case len(entries) == 0:
		ev.Result = ResolveEmpty
	default:
		ev.Added, ev.Removed = g.apply(entries)
		ev.Result = ResolveOK
		if len(ev.Added)+len(ev.Removed) > 0 {
			ev.Result = ResolveChanged
		}
	}
	g.mu.Lock()
	if ev.Result == ResolveOK || ev.Result == ResolveChanged {
		g.fails = 0
		g.resolved = true
		switch {
		case o.Interval > 0:
			ev.Next = o.Interval
		case ttl < 0:
			ev.Next = o.MinTTL
		default:
			ev.Next = min(max(ttl, o.MinTTL), o.MaxTTL)
		}
	} else {
		// Retry sooner than a TTL would say, backing off: a resolver
		// that is down is not asked once a second for long.
		g.fails++
		ceiling := max(o.MinTTL, min(dnsRetryMax, o.MaxTTL))
		if o.Interval > 0 {
			ceiling = min(ceiling, o.Interval)
		}
		ev.Next = ceiling
		if g.fails < 16 {
			ev.Next = min(o.MinTTL<<(g.fails-1), ceiling)
		}
	}
	g.due = time.Now().Add(ev.Next)
	ev.Servers = len(g.byAddr)
	g.mu.Unlock()
	if f := t.set.OnResolve; f != nil {
		f(ev)
	}
}

// dnsLoop resolves the group's names whenever they are due, until ctx
// ends.
func (g *Group) dnsLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		g.mu.Lock()
		wait := time.Until(g.due)
		g.mu.Unlock()
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		g.Resolve(ctx)
	}
}

// lookup resolves every name of the group at once; any failure fails the
// whole answer, so that a partial one never removes servers. ttl is the
// lowest TTL seen, -1 when the resolver does not tell.
func (g *Group) lookup(ctx context.Context, r resolver) ([]entry, time.Duration, error) {
	type part struct {
		entries []entry
		ttl     time.Duration
		err     error
	}
	parts := make([]part, len(g.names)+1)
	var wg sync.WaitGroup
	for i, hp := range g.names {
		wg.Go(func() {
			ips, ttl, err := r.lookupIP(ctx, hp.host)
			p := part{ttl: ttl, err: err}
			for _, ip := range ips {
				p.entries = append(p.entries, entry{addr: netip.AddrPortFrom(ip, hp.port).String(), host: hp.host, weight: 1})
			}
			parts[i] = p
		})
	}
	if g.srv != "" {
		wg.Go(func() {
			es, ttl, err := lookupSRV(ctx, r, g.srv)
			parts[len(g.names)] = part{entries: es, ttl: ttl, err: err}
		})
	}
	wg.Wait()
	var entries []entry
	var errs []error
	ttl := time.Duration(-1)
	for _, p := range parts {
		if p.err != nil {
			errs = append(errs, p.err)
			continue
		}
		entries = append(entries, p.entries...)
		if len(p.entries) > 0 {
			ttl = minTTL(ttl, p.ttl)
		}
	}
	return entries, ttl, errors.Join(errs...)
}

// lookupSRV resolves an SRV name and the targets it names that came
// without addresses.
func lookupSRV(ctx context.Context, r resolver, name string) ([]entry, time.Duration, error) {
	targets, ttl, err := r.lookupSRV(ctx, name)
	if err != nil {
		return nil, -1, err
	}
	slices.SortStableFunc(targets, func(a, b srvTarget) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(b.weight, a.weight))
	})
	if len(targets) > maxSRVTargets {
		targets = targets[:maxSRVTargets]
	}
	errs := make([]error, len(targets))
	ttls := make([]time.Duration, len(targets))
	var wg sync.WaitGroup
	for i := range targets {
		if len(targets[i].addrs) > 0 {
			ttls[i] = -1
			continue
		}
		wg.Go(func() {
			targets[i].addrs, ttls[i], errs[i] = r.lookupIP(ctx, targets[i].host)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, -1, err
	}
	var out []entry
	for i, t := range targets {
		if len(t.addrs) > 0 {
			ttl = minTTL(ttl, ttls[i])
		}
		for _, ip := range t.addrs {
			out = append(out, entry{addr: netip.AddrPortFrom(ip, t.port).String(), host: t.host, priority: t.priority, weight: t.weight})
		}
	}
	return out, ttl, nil
}

// apply makes resolved (with the static addresses) the group's servers.
// A server that stays keeps its load and health; one that joins gets a
// health loop when the group has a check; one that leaves gets no new
// request and its pooled connections close once idle.
func (g *Group) apply(resolved []entry) (added, removed []string) {
	entries := append(slices.Clone(g.static), resolved...)
	slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.priority, b.priority) })
	g.mu.Lock()
	defer g.mu.Unlock()
	next := make(map[string]*Server, len(entries))
	var kept []entry
	var joined []*Server
	for _, e := range entries {
		if _, dup := next[e.addr]; dup {
			continue
		}
		s := g.byAddr[e.addr]
		if s == nil {
			s = &Server{addr: e.addr, host: e.host, group: g}
			if g.attach != nil {
				s.attached = g.attach(s)
			}
			joined = append(joined, s)
			added = append(added, e.addr)
		}
		s.weight.Store(int32(max(e.weight, 1)))
		next[e.addr] = s
		kept = append(kept, e)
	}
	var left []*Server
	for addr, s := range g.byAddr {
		if next[addr] == nil {
			left = append(left, s)
			removed = append(removed, addr)
		}
	}
	for _, s := range joined {
		if g.client != nil {
			g.client.admit(s.addr, s.host)
		}
		g.startHealth(s)
	}
	g.byAddr = next
	g.set.Store(buildSet(kept, next))
	for _, s := range left {
		s.gone.Store(true)
		if s.stop != nil {
			s.stop()
			s.stop = nil
		}
		if g.client != nil {
			g.client.retire(s.addr)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

// wheelSize bounds the turns of one priority: weights are scaled down to
// it, keeping at least one turn each.
const wheelSize = 256

func buildSet(entries []entry, byAddr map[string]*Server) *serverSet {
	set := &serverSet{}
	for i, e := range entries {
		s := byAddr[e.addr]
		s.index.Store(int32(i))
		set.all = append(set.all, s)
		if len(set.tiers) == 0 || entries[i-1].priority != e.priority {
			set.tiers = append(set.tiers, tier{})
		}
		t := &set.tiers[len(set.tiers)-1]
		t.members = append(t.members, s)
	}
	for i := range set.tiers {
		t := &set.tiers[i]
		t.wheel = wheel(t.members)
	}
	return set
}

// wheel repeats each server by its weight (reduced by their greatest
// common divisor and scaled to wheelSize), interleaved: weights 3 and 1
// give a, b, a, a.
func wheel(members []*Server) []*Server {
	w := make([]int, len(members))
	d, sum := 0, 0
	for i, s := range members {
		w[i] = int(s.weight.Load())
		d = gcd(d, w[i])
	}
	for i := range w {
		w[i] /= d
		sum += w[i]
	}
	if sum == len(members) {
		return members
	}
	top := 0
	for i := range w {
		if sum > wheelSize {
			w[i] = max(1, w[i]*wheelSize/sum)
		}
		top = max(top, w[i])
	}
	var out []*Server
	for round := range top {
		for i, s := range members {
			if w[i] > round {
				out = append(out, s)
			}
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
