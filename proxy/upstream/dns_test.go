package upstream

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/gantry-proxy/gantry/internal/dnstest"
)

func TestDNSClient(t *testing.T) {
	ns := dnstest.Start(t)
	c := &dnsClient{servers: []string{ns.Addr}, timeout: 2 * time.Second}
	ctx := context.Background()
	ns.SetIP("api.test", "127.0.0.3", "127.0.0.2", "::1")
	ips, ttl, err := c.lookupIP(ctx, "API.test.")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("::1")}, ips)
	assert.Equal(t, time.Second, ttl)

	ips, _, err = c.lookupIP(ctx, "missing.test")
	require.NoError(t, err, "NXDOMAIN is an empty answer, not an error")
	assert.Empty(t, ips)

	ns.Fail("broken.test", dnsmessage.RCodeServerFailure)
	_, _, err = c.lookupIP(ctx, "broken.test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ServerFailure")

	ns.SetIP("a.test", "127.0.0.2")
	ns.SetIP("b.test", "127.0.0.3")
	ns.SetSRV("_http._tcp.api.test", dnstest.SRV{Target: "a.test", Port: 8080, Priority: 10, Weight: 1}, dnstest.SRV{Target: "b.test", Port: 8081, Priority: 10, Weight: 3})
	targets, _, err := c.lookupSRV(ctx, "_http._tcp.api.test")
	require.NoError(t, err)
	require.Len(t, targets, 2)
	assert.Equal(t, "a.test", targets[0].host)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.2")}, targets[0].addrs, "from the additional section")

	// A second resolver is asked when the first does not answer in time.
	dead := &dnsClient{servers: []string{deadUDP(t), ns.Addr}, timeout: 200 * time.Millisecond}
	ips, _, err = dead.lookupIP(ctx, "a.test")
	require.NoError(t, err)
	assert.Len(t, ips, 1)
}

// deadUDP is a UDP address that never answers.
func deadUDP(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	return pc.LocalAddr().String()
}

// TestGroupFollowsDNS: a resolution applies servers that joined and left;
// a failed or empty one keeps the servers.
func TestGroupFollowsDNS(t *testing.T) {
	ns := dnstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var events []ResolveEvent
	tr := NewTransport(ctx, Settings{DNS: DNSOptions{Resolvers: []string{ns.Addr}}, OnResolve: func(ev ResolveEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	defer tr.Close()
	g, err := tr.NewGroup("app", &GroupOptions{Addrs: []string{"127.0.0.9:80", "svc.test:80"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.9:80"}, addrs(g), "IP addresses are servers before any resolution")
	last := func() ResolveEvent {
		mu.Lock()
		defer mu.Unlock()
		return events[len(events)-1]
	}

	ns.SetIP("svc.test", "127.0.0.2", "127.0.0.3")
	g.Resolve(ctx)
	assert.Equal(t, []string{"127.0.0.9:80", "127.0.0.2:80", "127.0.0.3:80"}, addrs(g))
	assert.Equal(t, ResolveChanged, last().Result)
	assert.Equal(t, time.Second, last().Next, "TTL 1s")
	kept := g.Servers()[1]
	assert.Equal(t, "svc.test", kept.Host())

	ns.SetIP("svc.test", "127.0.0.2", "127.0.0.4")
	g.Resolve(ctx)
	assert.Equal(t, []string{"127.0.0.9:80", "127.0.0.2:80", "127.0.0.4:80"}, addrs(g))
	assert.Equal(t, []string{"127.0.0.4:80"}, last().Added)
	assert.Equal(t, []string{"127.0.0.3:80"}, last().Removed)
	assert.Same(t, kept, g.Servers()[1], "a server that stays keeps its bookkeeping")

	g.Resolve(ctx)
	assert.Equal(t, ResolveOK, last().Result)

	ns.Fail("svc.test", dnsmessage.RCodeServerFailure)
	g.Resolve(ctx)
	assert.Equal(t, ResolveError, last().Result)
	assert.Len(t, g.Servers(), 3, "a failure keeps the last servers")
	g.Resolve(ctx)
	assert.Equal(t, 2*time.Second, last().Next, "failures back off")

	ns.SetIP("svc.test")
	g.Resolve(ctx)
	assert.Equal(t, ResolveEmpty, last().Result)
	assert.Len(t, g.Servers(), 3, "an empty answer keeps the last servers")
}

func addrs(g *Group) []string {
	var out []string
	for _, s := range g.Servers() {
		out = append(out, s.Addr())
	}
	return out
}

// TestSRVPriorityAndWeight: only the lowest priority with an available
// server is chosen, in proportion to the weights.
func TestSRVPriorityAndWeight(t *testing.T) {
	ns := dnstest.Start(t)
	ns.NoAdditional.Store(true) // the targets are looked up
	ns.SetIP("a.test", "127.0.0.2")
	ns.SetIP("b.test", "127.0.0.3")
	ns.SetIP("c.test", "127.0.0.4")
	ns.SetSRV("_http._tcp.app.test",
		dnstest.SRV{Target: "c.test", Port: 82, Priority: 20, Weight: 1},
		dnstest.SRV{Target: "a.test", Port: 80, Priority: 10, Weight: 3},
		dnstest.SRV{Target: "b.test", Port: 81, Priority: 10, Weight: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := NewTransport(ctx, Settings{DNS: DNSOptions{Resolvers: []string{ns.Addr}}})
	defer tr.Close()
	for _, balance := range []string{BalanceRoundRobin, BalanceLeastConn} {
		g, err := tr.NewGroup("app", &GroupOptions{SRV: "_http._tcp.app.test", Balance: balance}, nil)
		require.NoError(t, err)
		g.Resolve(ctx)
		require.Equal(t, []string{"127.0.0.2:80", "127.0.0.3:81", "127.0.0.4:82"}, addrs(g))
		counts := map[string]int{}
		for range 400 {
			s := g.Choose()
			counts[s.Addr()]++
			if balance == BalanceLeastConn {
				s.inflight.Add(1) // held: least_conn then spreads by weight
			}
		}
		assert.Equal(t, 300, counts["127.0.0.2:80"], balance)
		assert.Equal(t, 100, counts["127.0.0.3:81"], balance)
		assert.Zero(t, counts["127.0.0.4:82"], "priority 20 is a backup")
		for _, s := range g.Servers()[:2] {
			s.inflight.Store(0)
			s.unhealthy.Store(true)
		}
		assert.Equal(t, "127.0.0.4:82", g.Choose().Addr(), "%s: the backup once priority 10 is out", balance)
	}
}

// TestDNSLoopStops: the background resolution ends with the transport's
// context, leaving no goroutine behind.
func TestDNSLoopStops(t *testing.T) {
	ns := dnstest.Start(t)
	ns.SetIP("svc.test", "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	tr := NewTransport(ctx, Settings{DNS: DNSOptions{Resolvers: []string{ns.Addr}, MinTTL: 10 * time.Millisecond, Interval: 10 * time.Millisecond}})
	g, err := tr.NewGroup("app", &GroupOptions{Addrs: []string{"svc.test:80"}, Health: HealthOptions{Check: &HealthCheckOptions{Path: "/", Interval: 10 * time.Millisecond}}}, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	g.Start(&wg)
	assert.Eventually(t, func() bool { return ns.Queries() >= 6 }, 10*time.Second, 5*time.Millisecond, "the loop resolves at the interval")
	assert.Equal(t, 1, countGoroutines("(*Group).dnsLoop"))
	cancel()
	wg.Wait()
	tr.Close()
	assert.Zero(t, countGoroutines("(*Group).dnsLoop"))
	assert.Zero(t, countGoroutines("(*Group).healthLoop"))
}

func countGoroutines(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}
