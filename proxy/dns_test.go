package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/internal/dnstest"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// namedOrigin answers its name; /slow waits for release first. It counts
// requests and open connections.
type namedOrigin struct {
	*httptest.Server
	requests atomic.Int64
	open     atomic.Int64
	release  chan struct{}
}

func startNamedOrigin(t *testing.T, ln net.Listener, name string) *namedOrigin {
	t.Helper()
	o := &namedOrigin{release: make(chan struct{})}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		if r.URL.Path == "/slow" {
			<-o.release
		}
		_, _ = io.WriteString(w, name)
	}))
	o.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			o.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			o.open.Add(-1)
		}
	}
	if ln != nil {
		_ = o.Listener.Close()
		o.Listener = ln
	}
	o.Start()
	t.Cleanup(o.Close)
	return o
}

// loopbackListeners listens on the same port of each of the given
// loopback addresses, as the servers behind one name do.
func loopbackListeners(t *testing.T, ips ...string) (string, []net.Listener) {
	t.Helper()
	for range 20 {
		first, err := net.Listen("tcp", ips[0]+":0")
		require.NoError(t, err)
		_, port, _ := net.SplitHostPort(first.Addr().String())
		lns := []net.Listener{first}
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(ips) {
			return port, lns
		}
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	t.Fatal("no port free on every loopback address")
	return "", nil
}

// dnsCounts is a Metrics that counts DNS results.
type dnsCounts struct {
	nopMetrics
	mu sync.Mutex
	n  map[string]int
}

func (d *dnsCounts) DNSResolution(group, result string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[string]int{}
	}
	d.n[group+"/"+result]++
}

func (d *dnsCounts) get(k string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[k]
}

func getBody(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

// eventually sends requests until one is answered by want, within a
// generous cap: the bound is the TTL (1s), the cap is for slow machines.
func eventually(t *testing.T, c *http.Client, url, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if getBody(t, c, url) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no request reached %s", want)
}

// TestUpstreamFollowsDNS: a group addressed by a host name follows its A
// records without a reload: a server that appears gets requests, one that
// disappears gets none after that, its request in flight finishes and its
// pooled connections close.
func TestUpstreamFollowsDNS(t *testing.T) {
	port, lns := loopbackListeners(t, "127.0.0.2", "127.0.0.3")
	a := startNamedOrigin(t, lns[0], "A")
	b := startNamedOrigin(t, lns[1], "B")
	ns := dnstest.Start(t)
	ns.SetIP("app.test", "127.0.0.2")
	m := &dnsCounts{}
	opts := Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{"app.test:" + port}}},
		Routes:    []RouteOptions{{Upstream: "app"}},
		DNS:       DNSOptions{Resolvers: []string{ns.Addr}},
		Metrics:   m,
	}
	_, addr := startProxy(t, opts)
	c := client(t, false) // keep-alive: the proxy pools its upstream connections
	url := "https://" + addr + "/"
	for range 5 {
		assert.Equal(t, "A", getBody(t, c, url), "resolved before the proxy served")
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := client(t, false).Get(url + "slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	require.Eventually(t, func() bool { return a.requests.Load() == 6 }, 10*time.Second, 5*time.Millisecond)

	ns.SetIP("app.test", "127.0.0.3")
	eventually(t, c, url, "B")
	before := a.requests.Load()
	for range 20 {
		assert.Equal(t, "B", getBody(t, c, url), "the removed server gets no new request")
	}
	assert.Equal(t, before, a.requests.Load())
	close(a.release)
	assert.Equal(t, "A", <-slow, "the request in flight on the removed server finishes")
	assert.Eventually(t, func() bool { return a.open.Load() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the removed server's connections are closed once idle")
	assert.Positive(t, b.requests.Load())
	assert.Equal(t, 2, m.get("app/changed"), "the first resolution, then the move")
	assert.Eventually(t, func() bool { return m.get("app/ok") > 0 }, 10*time.Second, 10*time.Millisecond, "the same answer again at the TTL")
}

// TestUpstreamFollowsSRV: a group named by an SRV record follows it, and
// a lower priority is a backup.
func TestUpstreamFollowsSRV(t *testing.T) {
	origins := map[string]*namedOrigin{}
	ns := dnstest.Start(t)
	port := map[string]uint16{}
	for _, name := range []string{"A", "B", "C"} {
		o := startNamedOrigin(t, nil, name)
		origins[name] = o
		_, p, _ := net.SplitHostPort(o.Listener.Addr().String())
		n, _ := strconv.Atoi(p)
		port[name] = uint16(n)
		ns.SetIP(strings.ToLower(name)+".test", "127.0.0.1")
	}
	srv := func(name string, prio uint16) dnstest.SRV {
		return dnstest.SRV{Target: strings.ToLower(name) + ".test", Port: port[name], Priority: prio, Weight: 1}
	}
	ns.SetSRV("_http._tcp.app.test", srv("A", 10), srv("B", 20))
	_, addr := startProxy(t, Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {SRV: "_http._tcp.app.test"}},
		Routes:    []RouteOptions{{Upstream: "app"}},
		DNS:       DNSOptions{Resolvers: []string{ns.Addr}},
	})
	c := client(t, true)
	url := "https://" + addr + "/"
	for range 10 {
		assert.Equal(t, "A", getBody(t, c, url), "priority 20 is a backup")
	}
	ns.SetSRV("_http._tcp.app.test", srv("B", 10), srv("C", 10))
	eventually(t, c, url, "C")
	before := origins["A"].requests.Load()
	seen := map[string]int{}
	for range 20 {
		seen[getBody(t, c, url)]++
	}
	assert.Equal(t, map[string]int{"B": 10, "C": 10}, seen, "round robin over the new priority 10")
	assert.Equal(t, before, origins["A"].requests.Load())
}

// TestNoServersYet: a name that never resolved leaves the group without
// servers: 502, and the proxy starts anyway.
func TestNoServersYet(t *testing.T) {
	ns := dnstest.Start(t)
	_, addr := startProxy(t, Options{
		Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{"nowhere.test:80"}}},
		Routes:    []RouteOptions{{Upstream: "app"}},
		DNS:       DNSOptions{Resolvers: []string{ns.Addr}},
	})
	resp, err := client(t, false).Get("https://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
}

// TestDNSLoopsEndWithTheProxy: each proxy runs one resolution loop per
// group with names, and Close (or the drain after a reload, which builds
// a new proxy) ends it.
func TestDNSLoopsEndWithTheProxy(t *testing.T) {
	ns := dnstest.Start(t)
	ns.SetIP("app.test", "127.0.0.2")
	opts := func() Options {
		return Options{
			Listeners: []ListenerOptions{{Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
			Upstreams: map[string]*UpstreamGroupOptions{
				"app":   {Addrs: []string{"app.test:80"}},
				"other": {Addrs: []string{"app.test:81", "127.0.0.1:82"}},
				"ips":   {Addrs: []string{"127.0.0.1:83"}}, // nothing to resolve: no loop
			},
			Routes: []RouteOptions{{Upstream: "app"}},
			DNS:    DNSOptions{Resolvers: []string{ns.Addr}},
		}
	}
	serve := func() (*Proxy, chan error) {
		p, err := New(opts())
		require.NoError(t, err)
		require.NoError(t, p.Listen())
		done := make(chan error, 1)
		go func() { done <- p.Serve(nil) }()
		return p, done
	}
	loops := func() int { return countGoroutines("(*Group).dnsLoop") }
	old, oldDone := serve()
	require.Eventually(t, func() bool { return loops() == 2 }, 10*time.Second, 5*time.Millisecond)
	next, nextDone := serve()
	require.Eventually(t, func() bool { return loops() == 4 }, 10*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, old.Shutdown(ctx))
	assert.True(t, errors.Is(<-oldDone, ErrServerClosed))
	assert.Equal(t, 2, loops(), "the old proxy's loops ended with its drain")
	require.NoError(t, next.Close())
	<-nextDone
	assert.Zero(t, loops())

	// A proxy that never served has no loop to stop.
	p, err := New(opts())
	require.NoError(t, err)
	assert.Zero(t, loops())
	require.NoError(t, p.Close())
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

// TestResolutionLogged: a change of servers is logged once; a failure is
// a warning once per change of state, at most one per interval.
func TestResolutionLogged(t *testing.T) {
	var buf bytes.Buffer
	u := newUpstreamLog(slog.New(slog.NewTextHandler(&buf, nil)))
	now := time.Unix(1000, 0)
	u.now = func() time.Time { return now }
	ev := func(result string) upstream.ResolveEvent {
		return upstream.ResolveEvent{Group: "app", Result: result, Servers: 2, Next: time.Second, Err: errors.New("SERVFAIL")}
	}
	u.resolved(upstream.ResolveEvent{Group: "app", Result: upstream.ResolveChanged, Added: []string{"10.0.0.2:80"}, Removed: []string{"10.0.0.1:80"}, Servers: 1})
	u.resolved(ev(upstream.ResolveOK))
	for range 100 {
		u.resolved(ev(upstream.ResolveError))
	}
	u.resolved(ev(upstream.ResolveOK)) // within the interval: held back
	u.resolved(ev(upstream.ResolveError))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, buf.String())
	assert.Contains(t, lines[0], `level=INFO msg="upstream servers changed" upstream=app added=[10.0.0.2:80] removed=[10.0.0.1:80]`)
	assert.Contains(t, lines[1], `level=WARN msg="upstream names did not resolve; keeping the last servers" upstream=app servers=2`)
	assert.Contains(t, lines[1], "err=SERVFAIL")

	buf.Reset()
	now = now.Add(upstreamLogEvery)
	u.resolved(ev(upstream.ResolveOK))
	assert.Contains(t, buf.String(), `level=INFO msg="upstream names resolve again" upstream=app servers=2`)
	buf.Reset()
	u.resolved(ev(upstream.ResolveOK))
	assert.Empty(t, buf.String())
}
