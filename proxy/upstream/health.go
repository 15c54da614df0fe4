package upstream

import (
	"context"
	"net/http"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

func (g *Group) healthLoop(s *Server) {
	interval, timeout := g.check.Interval, g.check.Timeout
	if interval == 0 {
		interval = DefaultCheckInterval
	}
	if timeout == 0 {
		timeout = DefaultCheckTimeout
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	ctx := g.client.t.ctx
	for {
		s.unhealthy.Store(!g.probe(s, timeout))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe sends one GET of the health path on a fresh connection. It does
// not count as load or as a passive health result.
func (g *Group) probe(s *Server, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(g.client.t.ctx, timeout)
	defer cancel()
	var hdr h1.Header
	hdr.Add("User-Agent", "gantry-health-check")
	req := &Request{Method: http.MethodGet, Authority: s.addr, Path: g.check.Path, Header: &hdr, Context: ctx}
	done := make(chan struct{})
	var ok bool
	go func() {
		defer close(done)
		resp, _, err := g.client.attempt(req, s.addr, true)
		if err != nil {
			return
		}
		resp.Done(false)
		st := resp.Status
		if want := g.check.ExpectStatus; want != 0 {
			ok = st == want
		} else {
			ok = st >= 200 && st < 400
		}
	}()
	select {
	case <-done:
		return ok
	case <-ctx.Done():
		<-done
		return false
	}
}
