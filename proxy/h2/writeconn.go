package h2

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// writeConn, the downstream HTTP/2 write wrapper, sits between x/net's HTTP/2 server and a downstream TLS
// connection and coalesces its writes.
//
// x/net flushes its frame buffer whenever its write queue runs empty. With
// one handler goroutine per stream that queue holds one frame at a time, so
// a 1 KiB response cost two or three flushes, each its own TLS record and
// write syscall, on a connection carrying ten streams at once (profiled:
// 3.7 downstream writes per request, most of the proxy's CPU in the
// kernel's loopback send path). Here Write only queues the bytes; one writer
// goroutine sends everything queued after yielding once, so the frames of
// every stream that is ready in this scheduling round leave in one record
// and one syscall.
//
// Bounds: at most writeQueueMax bytes wait (Write blocks beyond that,
// which is x/net's back-pressure as before), each send has writeTimeout
// (x/net's WriteByteTimeout is enforced here, since its own writes no
// longer block), and a failed send closes the connection, so the server's
// reads end too. Close sends what is queued first, within closeDrain.
type writeConn struct {
	StateConn
	writeTimeout time.Duration
	cancel       *idleCancel // nil: resets pass unchanged

	mu      sync.Mutex
	cond    sync.Cond // writer: bytes queued or closing; Write: room or failure
	queued  []byte
	spare   []byte // the writer's last buffer, reused
	err     error  // sticky: the first failed send
	sending bool   // a send is in progress (writer goroutine or direct)
	closing bool
	done    chan struct{} // closed when the writer exits
	closed  sync.Once
}

const (
	// writeQueueMax is about one initial stream window plus frames:
	// beyond it a writer waits rather than buffer a slow client's backlog.
	writeQueueMax = 128 << 10
	// closeDrain bounds how long Close waits for queued frames (a GOAWAY,
	// the last responses) to leave before closing regardless.
	closeDrain = time.Second
	// spareMax is the largest send buffer kept for reuse: enough for a
	// round of small responses.
	spareMax = 32 << 10
	// directMin is the write size sent without queueing: x/net passes
	// on unbuffered only frames larger than its 4 KiB buffer.
	directMin = 8 << 10
)

// newWriteConn wraps c; with streamIdle > 0, the resets of streams idle
// that long carry CANCEL (see idleCancel).
func newWriteConn(c StateConn, writeTimeout, streamIdle time.Duration) *writeConn {
	w := &writeConn{StateConn: c, writeTimeout: writeTimeout, done: make(chan struct{})}
	if streamIdle > 0 {
		w.cancel = newIdleCancel(streamIdle)
	}
	w.cond.L = &w.mu
	go w.writeLoop()
	return w
}

// Write queues b for the writer goroutine, or sends it at once when it is
// large (a full DATA frame gains nothing from waiting) and nothing is queued
// or being sent before it.
func (w *writeConn) Write(b []byte) (int, error) {
	w.mu.Lock()
	for w.err == nil && !w.closing && len(w.queued) > 0 && len(w.queued)+len(b) > writeQueueMax {
		w.cond.Wait()
	}
	if w.err != nil {
		defer w.mu.Unlock()
		return 0, w.err
	}
	if w.closing {
		w.mu.Unlock()
		return 0, net.ErrClosed
	}
	if len(b) >= directMin && len(w.queued) == 0 && !w.sending {
		w.sending = true
		n := len(b)
		if w.cancel != nil {
			b = w.cancel.outbound(b, false)
		}
		w.mu.Unlock()
		err := w.send(b)
		w.mu.Lock()
		w.sending = false
		w.cond.Broadcast()
		w.mu.Unlock()
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	start := len(w.queued)
	w.queued = append(w.queued, b...)
	if w.cancel != nil {
		w.cancel.outbound(w.queued[start:], true)
	}
	w.cond.Broadcast()
	w.mu.Unlock()
	return len(b), nil
}

// Read passes what the client sent through the stream-idle tracker. x/net
// reads from one goroutine only.
func (w *writeConn) Read(b []byte) (int, error) {
	n, err := w.StateConn.Read(b)
	if w.cancel != nil && n > 0 {
		w.cancel.inbound(b[:n])
	}
	return n, err
}

// send writes b to the connection under a fresh deadline; a failure is
// kept for every later Write and closes the connection.
func (w *writeConn) send(b []byte) error {
	_ = w.StateConn.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	_, err := w.StateConn.Write(b)
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		_ = w.StateConn.Close()
	}
	return err
}

func (w *writeConn) writeLoop() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for w.err == nil && (w.sending || (len(w.queued) == 0 && !w.closing)) {
			w.cond.Wait()
		}
		if w.err != nil || len(w.queued) == 0 {
			// Failed, or closing with nothing left to send.
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		// Let the goroutines runnable now (other streams' handlers, the
		// server's frame loop) queue their frames first. No direct send can
		// start meanwhile: the queue is not empty.
		runtime.Gosched()
		w.mu.Lock()
		out := w.queued
		w.queued = w.spare[:0]
		w.sending = true
		w.cond.Broadcast() // the queue has room again
		w.mu.Unlock()

		err := w.send(out)

		w.mu.Lock()
		w.sending = false
		if cap(out) <= spareMax {
			w.spare = out[:0]
		} else {
			w.spare = nil // an idle connection should not hold a burst's buffer
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// SetWriteDeadline is a no-op: the writer goroutine sets its own deadline
// per send, and x/net's per-write deadlines would only cover queueing.
func (w *writeConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline applies t to reads only, as SetWriteDeadline explains.
func (w *writeConn) SetDeadline(t time.Time) error { return w.StateConn.SetReadDeadline(t) }

// Close sends what is queued (within closeDrain), then closes the
// connection. It is safe to call more than once and from any goroutine.
func (w *writeConn) Close() error {
	var err error
	w.closed.Do(func() {
		w.mu.Lock()
		w.closing = true
		w.cond.Broadcast()
		w.mu.Unlock()
		t := time.NewTimer(closeDrain)
		select {
		case <-w.done:
		case <-t.C:
			// A client that stopped reading: end the blocked send, so the
			// close below never runs alongside it.
			_ = w.StateConn.SetWriteDeadline(time.Unix(1, 0))
			<-w.done
		}
		t.Stop()
		err = w.StateConn.Close()
	})
	return err
}
