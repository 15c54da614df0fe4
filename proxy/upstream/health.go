package proxy

import (
	"context"
	"net/http"
	"time"
)

// startHealthChecks probes every server of groups with a health check, in
// the background, until the proxy closes.
func (r *router) startHealthChecks() {
	for _, g := range r.groups {
		if g.health == nil {
			continue
		}
		for _, b := range g.backends {
			r.p.healthWG.Add(1)
			go func() {
				defer r.p.healthWG.Done()
				r.healthLoop(g, b)
			}()
		}
	}
}

func (r *router) healthLoop(g *group, b *backendState) {
	hc := g.health
	interval, timeout := hc.Interval, hc.Timeout
	if interval == 0 {
		interval = 10 * time.Second
	}
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		b.unhealthy.Store(!r.probe(g, b, timeout))
		select {
		case <-r.p.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe sends one GET of the health path on a fresh connection.
func (r *router) probe(g *group, b *backendState, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(r.p.ctx, timeout)
	defer cancel()
	s := &Session{ctx: ctx, Start: time.Now(), Body: http.NoBody}
	s.Request = RequestHead{Method: http.MethodGet, Scheme: "http", Authority: b.peer.Addr, Path: g.health.Path}
	req := &RequestHead{Method: http.MethodGet, Authority: b.peer.Addr, Path: g.health.Path}
	req.Header.Add("User-Agent", "gantry-health-check")
	done := make(chan struct{})
	var ok bool
	go func() {
		defer close(done)
		resp, _, err := r.p.attempt(s, g.tlsClient, b.peer.Addr, req, true)
		if err != nil {
			return
		}
		resp.ex.done(false)
		st := resp.head.Status
		if want := g.health.ExpectStatus; want != 0 {
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
