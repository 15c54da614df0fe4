package h2

import (
	"context"
	"sync/atomic"
)

// Workers runs stream handlers on long-lived goroutines. Proxying a
// request needs a deeper stack than a new goroutine starts with; a worker
// keeps its grown stack from one stream to the next instead of growing
// (and copying) a fresh one per stream. Several servers may share one.
type Workers struct {
	ctx  context.Context
	jobs chan *Stream // unbuffered: a send succeeds only to an idle worker
	idle atomic.Int32
}

// workersMaxIdle bounds the workers kept after a burst.
const workersMaxIdle = 256

// NewWorkers makes a pool whose idle workers end with ctx.
func NewWorkers(ctx context.Context) *Workers {
	return &Workers{ctx: ctx, jobs: make(chan *Stream)}
}

// run starts st's handler on an idle worker, or a new one; it never waits.
func (w *Workers) run(st *Stream) {
	if w == nil {
		go st.c.runHandler(st)
		return
	}
	select {
	case w.jobs <- st:
	default:
		go w.work(st)
	}
}

func (w *Workers) work(st *Stream) {
	for {
		st.c.runHandler(st)
		if w.idle.Add(1) > workersMaxIdle {
			w.idle.Add(-1)
			return
		}
		select {
		case st = <-w.jobs:
			w.idle.Add(-1)
		case <-w.ctx.Done():
			w.idle.Add(-1)
			return
		}
	}
}

// runHandler calls the handler for st and settles the stream after it: a
// response the handler left unfinished is reset, so the client never takes
// a cut response for a whole one.
func (c *conn) runHandler(st *Stream) {
	defer func() {
		p := recover()
		c.mu.Lock()
		if p != nil {
			c.countError("handler_panic")
		}
		if !st.localDone && !c.closed {
			c.queueRST(st.id, ErrCodeInternal)
			c.closeStreamLocked(st, ErrStreamReset)
		}
		st.running = false
		c.running--
		c.forgetLocked(st)
		c.releaseLocked(st) // may give unread body bytes back: flushed below
		c.idleCheckLocked()
		c.kick()
		c.allDone.Broadcast()
		c.mu.Unlock()
	}()
	c.handler(st)
}
