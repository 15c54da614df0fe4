package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/internal/dnstest"
)

// TestServeFollowsDNS: gantry serve with server.dns.resolvers pointed at
// a test DNS server follows a name whose address changes, without a
// reload, and says so in its log and metrics.
func TestServeFollowsDNS(t *testing.T) {
	e := newOpsEnv(t)
	port, lns := sharedPort(t, "127.0.0.2", "127.0.0.3")
	var hitsA atomic.Int64
	for i, name := range []string{"A", "B"} {
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if name == "A" {
				hitsA.Add(1)
			}
			_, _ = io.WriteString(w, name)
		}))
		_ = s.Listener.Close()
		s.Listener = lns[i]
		s.Start()
		t.Cleanup(s.Close)
	}
	ns := dnstest.Start(t)
	ns.SetIP("app.test", "127.0.0.2")
	e.write(t, fmt.Sprintf(`server:
  pid_file: gantry.pid
  control_socket: ctl.sock
  dns: {resolvers: [%q]}
listeners:
  - name: main
    address: %s
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: app}]
upstreams:
  app: {addresses: ["app.test:%s"]}
logging: {access_log: false, format: text}
metrics: {address: %s}
`, ns.Addr, e.addr, port, e.metrics))
	p := e.serve(t)
	for range 3 {
		assert.Equal(t, "A", e.get(t))
	}

	ns.SetIP("app.test", "127.0.0.3")
	deadline := time.Now().Add(30 * time.Second) // the TTL is 1s; the cap is for slow machines
	for e.get(t) != "B" {
		require.True(t, time.Now().Before(deadline), "gantry never followed the new address; output:\n%s", p.out())
		time.Sleep(50 * time.Millisecond)
	}
	before := hitsA.Load()
	for range 10 {
		assert.Equal(t, "B", e.get(t))
	}
	assert.Equal(t, before, hitsA.Load(), "the removed server gets no request")

	assert.Contains(t, p.out(), `msg="upstream servers changed" upstream=app added=[127.0.0.3:`+port+`] removed=[127.0.0.2:`+port+`]`)
	_, text := e.scrape("/metrics")
	assert.Contains(t, text, `gantry_dns_resolutions_total{group="app",result="changed"} 2`)
}

// sharedPort listens on one port of each loopback address.
func sharedPort(t *testing.T, ips ...string) (string, []net.Listener) {
	t.Helper()
	for range 20 {
		first, err := net.Listen("tcp", ips[0]+":0")
		require.NoError(t, err)
		_, port, _ := net.SplitHostPort(first.Addr().String())
		lns := []net.Listener{first}
		for _, ip := range ips[1:] {
			if ln, err := net.Listen("tcp", net.JoinHostPort(ip, port)); err == nil {
				lns = append(lns, ln)
			}
		}
		if len(lns) == len(ips) {
			return port, lns
		}
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	t.Fatal("no port free on " + strings.Join(ips, ", "))
	return "", nil
}

// TestServeFollowsSRV: an upstream group made of an SRV record
// (upstreams.NAME.srv) sends requests to the lowest-priority target and
// follows the record when it changes, with every server.dns key set, so
// each is read from the YAML and used.
func TestServeFollowsSRV(t *testing.T) {
	e := newOpsEnv(t)
	var ports []string
	for _, name := range []string{"A", "B"} {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		_, port, err := net.SplitHostPort(s.Listener.Addr().String())
		require.NoError(t, err)
		ports = append(ports, port)
	}
	portOf := func(i int) uint16 {
		var p uint16
		_, err := fmt.Sscan(ports[i], &p)
		require.NoError(t, err)
		return p
	}
	ns := dnstest.Start(t)
	ns.SetIP("a.test", "127.0.0.1")
	ns.SetIP("b.test", "127.0.0.1")
	ns.SetSRV("_http._tcp.app.test",
		dnstest.SRV{Target: "a.test", Port: portOf(0), Priority: 1, Weight: 1},
		dnstest.SRV{Target: "b.test", Port: portOf(1), Priority: 2, Weight: 1}) // a backup
	e.write(t, fmt.Sprintf(`server:
  pid_file: gantry.pid
  control_socket: ctl.sock
  dns: {resolvers: [%q], timeout: 1s, min_ttl: 1s, max_ttl: 2s, interval: 1s}
listeners:
  - name: main
    address: %s
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: app}]
upstreams:
  app: {srv: _http._tcp.app.test}
logging: {access_log: false, format: text}
metrics: {address: %s}
`, ns.Addr, e.addr, e.metrics))
	p := e.serve(t)
	for range 5 {
		assert.Equal(t, "A", e.get(t), "the lowest priority value gets the requests")
	}

	// A leaves the record: the backup takes over without a reload.
	ns.SetSRV("_http._tcp.app.test", dnstest.SRV{Target: "b.test", Port: portOf(1), Priority: 2, Weight: 1})
	waitFor(t, "the group followed the SRV record", func() bool { return e.get(t) == "B" })
	for range 5 {
		assert.Equal(t, "B", e.get(t))
	}
	assert.Contains(t, p.out(), "upstream servers changed")
	assert.GreaterOrEqual(t, ns.Queries(), int64(2), "the record was asked again")
}
