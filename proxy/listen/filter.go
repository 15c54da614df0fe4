package listen

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultIPv6Prefix is the prefix length IPv6 clients are counted by when
// FilterOptions.IPv6Prefix is zero: the /64 one host is usually given.
const DefaultIPv6Prefix = 64

// Filter is FilterOptions compiled: it judges a new connection by its
// remote address alone, before anything is read from it.
type Filter struct {
	allow, deny []netip.Prefix
	maxPerIP    int
	v6bits      int

	rate    float64
	burst   float64
	buckets map[netip.Addr]*bucket
	sweepAt time.Time

	mu     sync.Mutex
	perIP  map[netip.Addr]int
	hook   func(net.Addr, string) bool
	active bool

	// ja4Allow and ja4Deny judge the ClientHello (AdmitJA4), not the
	// address: nil when not configured.
	ja4Allow, ja4Deny map[string]bool
}

// NewFilter compiles o; hook, when not nil, is asked after the address
// rules and before the per-client limits.
func NewFilter(o FilterOptions, hook func(remote net.Addr, listener string) bool) (*Filter, error) {
	f := &Filter{maxPerIP: o.MaxConnsPerIP, hook: hook, perIP: make(map[netip.Addr]int), v6bits: o.IPv6Prefix}
	if o.MaxConnsPerIP < 0 || o.RatePerIP < 0 || o.RateBurst < 0 {
		return nil, fmt.Errorf("filter limits must not be negative")
	}
	if f.v6bits == 0 {
		f.v6bits = DefaultIPv6Prefix
	}
	if f.v6bits < 1 || f.v6bits > 128 {
		return nil, fmt.Errorf("filter ipv6_prefix %d (want 1 to 128)", o.IPv6Prefix)
	}
	f.rate, f.burst = o.RatePerIP, float64(o.RateBurst)
	if f.rate > 0 {
		if f.burst == 0 {
			f.burst = max(1, 2*f.rate)
		}
		f.buckets = make(map[netip.Addr]*bucket)
	}
	var err error
	if f.allow, err = ParsePrefixes("filter allow", o.Allow); err != nil {
		return nil, err
	}
	if f.deny, err = ParsePrefixes("filter deny", o.Deny); err != nil {
		return nil, err
	}
	if f.ja4Allow, err = ja4Set("ja4.allow", o.JA4.Allow); err != nil {
		return nil, err
	}
	if f.ja4Deny, err = ja4Set("ja4.deny", o.JA4.Deny); err != nil {
		return nil, err
	}
	f.active = len(f.allow) > 0 || len(f.deny) > 0 || f.maxPerIP > 0 || f.rate > 0 || hook != nil
	return f, nil
}

// ParsePrefixes reads CIDRs and single addresses (IPv4-mapped IPv6 ones
// as IPv4); what names the list in errors.
func ParsePrefixes(what string, in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", what, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("neither an address nor a CIDR")
	}
	return p.Masked(), nil
}

// Key is what a connection Admit let through counts against; the zero Key
// counts against nothing.
type Key struct{ a netip.Addr }

// Admit decides on a new connection. The caller must Release the returned
// key when the connection ends.
func (f *Filter) Admit(remote net.Addr, listener string) (Key, bool) {
	if !f.active {
		return Key{}, true
	}
	ip := addrOf(remote)
	if ip.IsValid() {
		if len(f.allow) > 0 && !containsAddr(f.allow, ip) {
			return Key{}, false
		}
		if containsAddr(f.deny, ip) {
			return Key{}, false
		}
	} else if len(f.allow) > 0 {
		return Key{}, false // an address we cannot judge is not allowed
	}
	if f.hook != nil && !f.hook(remote, listener) {
		return Key{}, false
	}
	if (f.maxPerIP > 0 || f.rate > 0) && ip.IsValid() {
		client := f.clientKey(ip)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.rate > 0 && !f.take(client, time.Now()) {
			return Key{}, false
		}
		if f.maxPerIP <= 0 {
			return Key{}, true
		}
		if f.perIP[client] >= f.maxPerIP {
			return Key{}, false
		}
		f.perIP[client]++
		return Key{client}, true
	}
	return Key{}, true
}

// clientKey is what the per-client limits count ip as: itself for IPv4,
// its prefix for IPv6. Keying the tables by prefix also bounds them: a
// client cycling through the addresses of its /64 adds one entry, not one
// per address.
func (f *Filter) clientKey(ip netip.Addr) netip.Addr {
	if !ip.Is6() || f.v6bits >= 128 {
		return ip
	}
	p, _ := ip.Prefix(f.v6bits)
	return p.Addr()
}

// Release gives back what Admit counted.
func (f *Filter) Release(k Key) {
	if !k.a.IsValid() || f.maxPerIP <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.perIP[k.a] - 1; n > 0 {
		f.perIP[k.a] = n
	} else {
		delete(f.perIP, k.a)
	}
}

// tables reports the entries of the per-client tables, for tests.
func (f *Filter) tables() (conns, buckets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.perIP), len(f.buckets)
}

// bucket is one client's token bucket for new connections.
type bucket struct {
	tokens float64
	at     time.Time
}

// take spends a token of the client's bucket; f.mu is held.
func (f *Filter) take(client netip.Addr, now time.Time) bool {
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
	b := f.buckets[client]
	if b == nil {
		b = &bucket{tokens: f.burst, at: now}
		f.buckets[client] = b
	}
	b.tokens = min(f.burst, b.tokens+now.Sub(b.at).Seconds()*f.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// addrOf is the IP of a TCP address (IPv4-mapped ones as IPv4), or the
// zero Addr for anything else.
func addrOf(remote net.Addr) netip.Addr {
	ta, ok := remote.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip, _ := netip.AddrFromSlice(ta.IP)
	return ip.Unmap()
}

func containsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
