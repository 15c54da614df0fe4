package upstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// healthLoop probes s until ctx ends: the transport's, or the server's
// own when it leaves the group.
func (g *Group) healthLoop(ctx context.Context, s *Server) {
	interval, timeout := g.check.Interval, g.check.Timeout
	if interval == 0 {
		interval = DefaultCheckInterval
	}
	if timeout == 0 {
		timeout = DefaultCheckTimeout
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, reason := g.probe(ctx, s, timeout)
		if ctx.Err() != nil {
			return
		}
		if was := s.unhealthy.Swap(!ok); was != !ok {
			st := StateUnhealthy
			if ok {
				st = StateHealthy
			}
			g.report(s, st, reason)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// authority is the Host a probe sends: the name the server's address came
// from, with its port, or the address itself.
func (s *Server) authority() string {
	if s.host == "" {
		return s.addr
	}
	_, port, _ := net.SplitHostPort(s.addr)
	return net.JoinHostPort(s.host, port)
}

// probe sends one GET of the health path on a fresh connection. It does
// not count as load or as a passive health result. A failed probe says why.
func (g *Group) probe(ctx context.Context, s *Server, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var hdr h1.Header
	hdr.Add("User-Agent", "gantry-health-check")
	req := &Request{Method: http.MethodGet, Authority: s.authority(), Path: g.check.Path, Header: &hdr, Context: ctx}
	done := make(chan struct{})
	var reason error
	go func() {
		defer close(done)
		resp, _, err := g.client.attempt(req, s.addr, true)
		if err != nil {
			reason = err
			return
		}
		resp.Done(false)
		st := resp.Status
		ok := st >= 200 && st < 400
		if want := g.check.ExpectStatus; want != 0 {
			ok = st == want
		}
		if !ok {
			reason = fmt.Errorf("health check %s answered %d", g.check.Path, st)
		}
	}()
	select {
	case <-done:
		return reason == nil, reason
	case <-ctx.Done():
		<-done
		return false, ErrTimeout
	}
}
