package upstream

import (
	"io"
	"time"
)

// hostPool holds the reusable connections to one server.
type hostPool struct {
	idle []*h1Conn // most recently used last
	h2   []*h2Client
}

func (c *Client) prune(now time.Time) {
	var stale []io.Closer
	c.mu.Lock()
	for addr, at := range c.retired {
		if now.Sub(at) > c.idleTimeout {
			delete(c.retired, addr)
		}
	}
	for addr, hp := range c.pools {
		// A retired server's connections go as soon as they are idle.
		limit := c.idleTimeout
		if _, gone := c.retired[addr]; gone {
			limit = -1
		}
		kept := hp.idle[:0]
		for _, ic := range hp.idle {
			if now.Sub(ic.idleSince) > limit {
				stale = append(stale, ic.c)
			} else {
				kept = append(kept, ic)
			}
		}
		clear(hp.idle[len(kept):])
		hp.idle = kept
		h2kept := hp.h2[:0]
		for _, hc := range hp.h2 {
			if hc.cc.State().Closed || (hc.cc.State().StreamsActive == 0 && now.Sub(hc.lastIdle()) > limit) {
				stale = append(stale, hc.cc)
			} else {
				h2kept = append(h2kept, hc)
			}
		}
		clear(hp.h2[len(h2kept):])
		hp.h2 = h2kept
		if len(hp.idle) == 0 && len(hp.h2) == 0 {
			delete(c.pools, addr)
		}
	}
	c.mu.Unlock()
	for _, s := range stale {
		_ = s.Close()
	}
}

func (c *Client) closeAll() {
	c.mu.Lock()
	pools := c.pools
	c.pools = make(map[string]*hostPool)
	c.mu.Unlock()
	for _, hp := range pools {
		for _, ic := range hp.idle {
			_ = ic.c.Close()
		}
		for _, hc := range hp.h2 {
			_ = hc.cc.Close()
		}
	}
}

// pooled returns a reusable connection to addr: an HTTP/2 connection that
// can take another stream, or the most recently idle HTTP/1.1 one.
func (c *Client) pooled(addr string) (h1c *h1Conn, h2c *h2Client) {
	now := time.Now()
	for {
		ic, h2c := c.take(addr, now)
		if ic == nil {
			return nil, h2c
		}
		// The peek is a syscall: it runs outside the pool's lock.
		if ic.quiet() {
			return ic, nil
		}
		go ic.c.Close()
	}
}

// take removes the most recently idle HTTP/1.1 connection that is not
// past its idle limit from addr's pool, or finds an HTTP/2 one that can
// take another stream.
func (c *Client) take(addr string, now time.Time) (*h1Conn, *h2Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hp := c.pools[addr]
	if hp == nil {
		return nil, nil
	}
	for _, hc := range hp.h2 {
		if hc.cc.CanTakeNewRequest() {
			return nil, hc
		}
	}
	for len(hp.idle) > 0 {
		ic := hp.idle[len(hp.idle)-1]
		hp.idle[len(hp.idle)-1] = nil
		hp.idle = hp.idle[:len(hp.idle)-1]
		if now.Sub(ic.idleSince) <= c.idleTimeout {
			return ic, nil
		}
		go ic.c.Close()
	}
	return nil, nil
}

// putIdle returns an HTTP/1.1 connection whose exchange ended cleanly.
func (c *Client) putIdle(addr string, ic *h1Conn) {
	if c.maxIdle < 0 || c.t.ctx.Err() != nil {
		_ = ic.c.Close()
		return
	}
	ic.idleSince = time.Now()
	c.mu.Lock()
	if _, gone := c.retired[addr]; gone {
		c.mu.Unlock()
		_ = ic.c.Close()
		return
	}
	hp := c.pools[addr]
	if hp == nil {
		hp = &hostPool{}
		c.pools[addr] = hp
	}
	if len(hp.idle) >= c.maxIdle {
		c.mu.Unlock()
		_ = ic.c.Close()
		return
	}
	hp.idle = append(hp.idle, ic)
	c.mu.Unlock()
}

func (c *Client) putH2(addr string, hc *h2Client) {
	c.mu.Lock()
	hp := c.pools[addr]
	if hp == nil {
		hp = &hostPool{}
		c.pools[addr] = hp
	}
	hp.h2 = append(hp.h2, hc)
	c.mu.Unlock()
}
