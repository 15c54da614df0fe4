package h2

import (
	"time"
)

// sweep is the connection's one timer: instead of a timer per stream, it
// runs every sweepEvery and ends the waits that outlasted their limit (a
// request body idle for StreamIdle, a response blocked on flow control or
// a full queue for WriteTimeout), the connection idle for IdleTimeout,
// and the first step of a drain the client never acknowledged.
func (c *conn) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := time.Now()
	for _, st := range c.streams {
		if st.waitUntil.IsZero() || now.Before(st.waitUntil) {
			continue
		}
		if st.waitIdle {
			// RST_STREAM CANCEL: the client stopped sending its body.
			c.queueRST(st.id, ErrCodeCancel)
			c.closeStreamLocked(st, ErrStreamIdle)
		} else {
			c.queueRST(st.id, ErrCodeCancel)
			c.closeStreamLocked(st, ErrWriteTimeout)
		}
		c.kick()
	}
	if c.drain == 1 && now.Sub(c.drainAt) >= time.Second {
		c.finalGoAwayLocked()
	}
	if t := c.srv.o.IdleTimeout; t > 0 && !c.idleSince.IsZero() && len(c.streams) == 0 && c.running == 0 && now.Sub(c.idleSince) >= t {
		c.goAwayLocked(ErrCodeNo, "")
		c.closing = true
		c.kick()
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
		return
	}
	c.sweepTimer.Reset(c.srv.sweepEvery)
}

// timeZero marks a connection that is not idle.
var timeZero time.Time

// sweepPeriod is how often a connection's sweep runs: a quarter of the
// shortest limit it enforces, within [10ms, 1s].
func sweepPeriod(limits ...time.Duration) time.Duration {
	p := time.Second
	for _, l := range limits {
		if l > 0 && l/4 < p {
			p = l / 4
		}
	}
	return max(p, 10*time.Millisecond)
}
