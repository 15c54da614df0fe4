package h2

import (
	"context"
	"sync"
	"sync/atomic"
)

// WarmPool runs HTTP/2 streams on long-lived goroutines; a Server uses one
// through ServerOptions.Workers, and several servers may share one.
//
// x/net starts a new goroutine for every stream. Proxying a request needs a
// deeper stack than a new goroutine starts with, so each stream grew its
// stack two or three times, copying it each time (profiled: about 7% of the
// proxy's CPU in runtime.morestack under h2load). A worker here keeps its
// grown stack from one stream to the next; the x/net goroutine only waits.
// Idle workers are bounded by warmMaxIdle, and all end with the pool's context.
type WarmPool struct {
	ctx  context.Context
	jobs chan *warmJob // unbuffered: a send succeeds only to an idle worker
	idle atomic.Int32
}

type warmJob struct {
	f        func()
	done     chan struct{}
	panicVal any
}

// warmMaxIdle bounds the workers kept waiting after a burst; more are
// started on demand and end when the burst ends.
const warmMaxIdle = 256

var warmJobPool = sync.Pool{New: func() any { return &warmJob{done: make(chan struct{}, 1)} }}

func NewWarmPool(ctx context.Context) *WarmPool {
	return &WarmPool{ctx: ctx, jobs: make(chan *warmJob)}
}

// Run calls f on a warm worker (a new one when none is idle) and returns
// when f has returned. A panic in f is raised again here, on the caller's
// goroutine, where x/net turns it into a stream reset as before.
func (wp *WarmPool) Run(f func()) {
	j := warmJobPool.Get().(*warmJob)
	j.f = f
	select {
	case wp.jobs <- j:
	default:
		go wp.work(j)
	}
	<-j.done
	pv := j.panicVal
	j.f, j.panicVal = nil, nil
	warmJobPool.Put(j)
	if pv != nil {
		panic(pv)
	}
}

func (wp *WarmPool) work(j *warmJob) {
	for {
		j.call()
		j.done <- struct{}{}
		if wp.idle.Add(1) > warmMaxIdle {
			wp.idle.Add(-1)
			return
		}
		select {
		case j = <-wp.jobs:
			wp.idle.Add(-1)
		case <-wp.ctx.Done():
			wp.idle.Add(-1)
			return
		}
	}
}

func (j *warmJob) call() {
	defer func() { j.panicVal = recover() }()
	j.f()
}
