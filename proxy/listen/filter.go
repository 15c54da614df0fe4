package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// connFilter is ConnFilterOptions compiled.
type connFilter struct {
	allow, deny []netip.Prefix
	maxPerIP    int

	rate    float64
	burst   float64
	buckets map[netip.Addr]*bucket
	sweepAt time.Time

	mu     sync.Mutex
	perIP  map[netip.Addr]int
	hook   func(net.Addr, string) bool
	active bool
}

func newConnFilter(o ConnFilterOptions, hook func(net.Addr, string) bool) (*connFilter, error) {
	f := &connFilter{maxPerIP: o.MaxConnsPerIP, hook: hook, perIP: make(map[netip.Addr]int)}
	if o.MaxConnsPerIP < 0 || o.RatePerIP < 0 || o.RateBurst < 0 {
		return nil, fmt.Errorf("proxy: filter limits must not be negative")
	}
	f.rate, f.burst = o.RatePerIP, float64(o.RateBurst)
	if f.rate > 0 {
		if f.burst == 0 {
			f.burst = max(1, 2*f.rate)
		}
		f.buckets = make(map[netip.Addr]*bucket)
	}
	var err error
	if f.allow, err = parsePrefixes("allow", o.Allow); err != nil {
		return nil, err
	}
	if f.deny, err = parsePrefixes("deny", o.Deny); err != nil {
		return nil, err
	}
	f.active = len(f.allow) > 0 || len(f.deny) > 0 || f.maxPerIP > 0 || f.rate > 0 || hook != nil
	return f, nil
}

func parsePrefixes(what string, in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("proxy: filter %s entry %q is neither an address nor a CIDR", what, s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("proxy: filter %s entry %q: %w", what, s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// admit decides on a new connection; when it returns true with a valid
// address, the caller must call release(addr) when the connection ends.
func (f *connFilter) admit(remote net.Addr, listener string) (netip.Addr, bool) {
	if !f.active {
		return netip.Addr{}, true
	}
	var ip netip.Addr
	if ta, ok := remote.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
		ip = ip.Unmap()
	}
	if ip.IsValid() {
		if len(f.allow) > 0 && !containsAddr(f.allow, ip) {
			return netip.Addr{}, false
		}
		if containsAddr(f.deny, ip) {
			return netip.Addr{}, false
		}
	} else if len(f.allow) > 0 {
		return netip.Addr{}, false // an address we cannot judge is not allowed
	}
	if f.hook != nil && !f.hook(remote, listener) {
		return netip.Addr{}, false
	}
	if (f.maxPerIP > 0 || f.rate > 0) && ip.IsValid() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.rate > 0 && !f.take(ip, time.Now()) {
			return netip.Addr{}, false
		}
		if f.maxPerIP <= 0 {
			return netip.Addr{}, true
		}
		if f.perIP[ip] >= f.maxPerIP {
			return netip.Addr{}, false
		}
		f.perIP[ip]++
		return ip, true
	}
	return netip.Addr{}, true
}

func (f *connFilter) release(ip netip.Addr) {
	if !ip.IsValid() || f.maxPerIP <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.perIP[ip] - 1; n > 0 {
		f.perIP[ip] = n
	} else {
		delete(f.perIP, ip)
	}
}

// bucket is one client's token bucket for new connections.
type bucket struct {
	tokens float64
	at     time.Time
}

// take spends a token of ip's bucket; f.mu is held.
func (f *connFilter) take(ip netip.Addr, now time.Time) bool {
	if now.After(f.sweepAt) {
		// Full buckets carry no information: drop them so the map only
		// holds clients that connected recently.
		for a, b := range f.buckets {
			if b.tokens+now.Sub(b.at).Seconds()*f.rate >= f.burst {
				delete(f.buckets, a)
			}
		}
		f.sweepAt = now.Add(time.Minute)
	}
	b := f.buckets[ip]
	if b == nil {
		b = &bucket{tokens: f.burst, at: now}
		f.buckets[ip] = b
	}
	b.tokens = min(f.burst, b.tokens+now.Sub(b.at).Seconds()*f.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func containsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
