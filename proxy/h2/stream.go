package h2

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// Stream is one request stream, handed to the Handler. Its request side
// (the head accessors, Read, Trailer) and response side (WriteHead,
// Write, Flush, Finish, Reset) may be used from different goroutines, one
// each. It is a context.Context done when the client resets the stream,
// the stream is reset for an error, or the connection ends.
//
// A Stream is valid until its handler returns.
type Stream struct {
	c    *conn
	id   uint32
	cond sync.Cond // on c.mu: body, window, queue room, reset

	// The request, fixed before the handler starts.
	method, scheme, authority, path string
	hdr                             h1.Header
	trailer                         h1.Header
	declared                        int64
	expect                          bool

	// Under c.mu.
	inMap      bool
	running    bool
	remoteDone bool // END_STREAM received
	localDone  bool // END_STREAM or RST_STREAM sent
	hasTrailer bool
	readErr    error // what Read returns once the buffered body is read
	err        error // the stream ended abnormally: reset, timeout, closed
	body       []byte
	bodyOff    int
	got        int64 // DATA received
	recvWindow int   // what the client may still send
	unack      int   // read by the handler, not yet returned to the client
	continued  bool  // 100 Continue sent
	interrupt  bool

	sendWindow int64
	headSent   bool // a final response head was queued
	dataSent   bool
	lastOff    int    // offset in c.out of the last frame queued...
	lastGen    uint64 // ...in this batch, or none
	lastOK     bool
	waitUntil  time.Time // the longest the current wait may last
	waitIdle   bool      // the wait is a body read (else a write)

	done    chan struct{}
	tracked io.Closer
	scratch []byte
}

var streamPool = sync.Pool{New: func() any { return new(Stream) }}

// newStreamLocked registers a new stream.
func (c *conn) newStreamLocked(id uint32) *Stream {
	st := streamPool.Get().(*Stream)
	st.c, st.id = c, id
	st.cond.L = &c.mu
	st.declared = -1
	st.recvWindow = streamWindow
	st.sendWindow = c.peerWindow
	st.inMap = true
	c.streams[id] = st
	return st
}

// dropNewLocked forgets a stream refused before its handler started.
func (c *conn) dropNewLocked(st *Stream) {
	st.localDone, st.remoteDone = true, true
	delete(c.streams, st.id)
	st.inMap = false
	c.releaseLocked(st)
	c.idleCheckLocked()
}

// releaseLocked returns st to the pool once neither the stream table nor a
// handler holds it. A stream whose context was watched (Done) is left to
// the collector: whoever watched it may still hold it.
func (c *conn) releaseLocked(st *Stream) {
	if st.inMap || st.running {
		return
	}
	if unread := len(st.body) - st.bodyOff; unread > 0 {
		c.consumedLocked(nil, unread)
	}
	if st.done != nil {
		return
	}
	hdr, trailer, body, scratch := st.hdr, st.trailer, st.body, st.scratch
	hdr.Reset()
	trailer.Reset()
	*st = Stream{hdr: hdr, trailer: trailer, body: body[:0], scratch: scratch[:0]}
	if cap(st.body) > streamWindow {
		st.body = nil
	}
	streamPool.Put(st)
}

// remoteDoneLocked records END_STREAM from the client.
func (c *conn) remoteDoneLocked(st *Stream) {
	st.remoteDone = true
	if st.localDone {
		c.forgetLocked(st)
	}
}

// forgetLocked removes a stream both sides finished from the table.
func (c *conn) forgetLocked(st *Stream) {
	if !st.inMap {
		return
	}
	delete(c.streams, st.id)
	st.inMap = false
	c.releaseLocked(st)
	c.idleCheckLocked()
}

// closeStreamLocked ends a stream abnormally: every wait on it returns err,
// its context is done and its tracked upstream connection closed.
func (c *conn) closeStreamLocked(st *Stream, err error) {
	st.abortLocked(err)
	c.forgetLocked(st)
}

func (st *Stream) abortLocked(err error) {
	if st.err == nil {
		st.err = err
	}
	if st.readErr == nil {
		st.readErr = err
	}
	st.localDone, st.remoteDone = true, true
	if st.done != nil {
		select {
		case <-st.done:
		default:
			close(st.done)
		}
	}
	if st.tracked != nil {
		_ = st.tracked.Close()
		st.tracked = nil
	}
	st.cond.Broadcast()
}

// failBodyLocked ends the request body with err (the stream is being reset
// for it).
func (st *Stream) failBodyLocked(err error) {
	if st.readErr == nil {
		st.readErr = err
	}
	st.cond.Broadcast()
}

// resetStreamLocked sends RST_STREAM for id and closes the stream.
func (c *conn) resetStreamLocked(id uint32, code ErrCode, provoked bool) {
	st := c.streams[id]
	if st != nil && provoked {
		c.guard.serverReset()
	}
	c.queueRST(id, code)
	if st != nil {
		c.closeStreamLocked(st, ErrStreamReset)
	}
}

// Method is the request's :method.
func (st *Stream) Method() string { return st.method }

// Scheme is :scheme; empty for CONNECT.
func (st *Stream) Scheme() string { return st.scheme }

// Authority is :authority, or the Host field without one.
func (st *Stream) Authority() string { return st.authority }

// Path is :path; empty for CONNECT.
func (st *Stream) Path() string { return st.path }

// Header is the request's regular fields, names in lower case, Host
// excluded (it is the Authority).
func (st *Stream) Header() *h1.Header { return &st.hdr }

// ContentLength is the request's content-length, -1 without one.
func (st *Stream) ContentLength() int64 { return st.declared }

// HasBody reports whether the request has DATA to read.
func (st *Stream) HasBody() bool {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	return !st.remoteDone || len(st.body) > st.bodyOff || st.hasTrailer
}

// RemoteAddr is the client's address.
func (st *Stream) RemoteAddr() net.Addr { return st.c.nc.RemoteAddr() }

// ID is the stream's identifier.
func (st *Stream) ID() uint32 { return st.id }

// Read reads the request body; io.EOF after END_STREAM. A read that gets
// nothing for StreamIdle resets the stream with CANCEL and returns
// ErrStreamIdle.
func (st *Stream) Read(p []byte) (int, error) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if st.bodyOff < len(st.body) {
			n := copy(p, st.body[st.bodyOff:])
			st.bodyOff += n
			if st.bodyOff == len(st.body) {
				st.body, st.bodyOff = st.body[:0], 0
			}
			if c.consumedLocked(st, n) {
				c.flushLocked()
			}
			return n, nil
		}
		if st.readErr != nil {
			return 0, st.readErr
		}
		if st.remoteDone {
			return 0, io.EOF
		}
		if st.interrupt {
			return 0, ErrInterrupted
		}
		if len(p) == 0 {
			return 0, nil
		}
		if st.expect && !st.continued && !st.headSent {
			st.continued = true
			_ = c.queueHeaders(st, 100, nil, -1, false) // no fields: it cannot fail
			// The flush lets go of the lock: the body may have come
			// meanwhile, so it is looked at again before waiting.
			c.flushLocked()
			continue
		}
		st.waitLocked(c.srv.o.StreamIdle, true)
	}
}

// waitLocked waits for a signal on st, at most limit (0: no limit); the
// connection's sweep ends waits that outlast theirs.
func (st *Stream) waitLocked(limit time.Duration, idle bool) {
	if limit > 0 {
		st.waitUntil = time.Now().Add(limit)
		st.waitIdle = idle
	}
	st.cond.Wait()
	st.waitUntil = time.Time{}
}

// Trailer is the request's trailer fields once Read returned io.EOF; nil
// when it had none.
func (st *Stream) Trailer() *h1.Header {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if !st.hasTrailer || !st.remoteDone {
		return nil
	}
	return &st.trailer
}

// Interrupt makes a Read in progress, and later ones, return
// ErrInterrupted.
func (st *Stream) Interrupt() {
	st.c.mu.Lock()
	st.interrupt = true
	st.cond.Broadcast()
	st.c.mu.Unlock()
}

// Track remembers the upstream connection serving the stream: a reset
// closes it (upstream.Tracker), so no context watch is needed per request.
func (st *Stream) Track(cl io.Closer) {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.err != nil && cl != nil {
		_ = cl.Close()
		return
	}
	st.tracked = cl
}

// Deadline is part of context.Context: a stream has none.
func (st *Stream) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is closed when the stream ends abnormally.
func (st *Stream) Done() <-chan struct{} {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.done == nil {
		st.done = make(chan struct{})
		if st.err != nil {
			close(st.done)
		}
	}
	return st.done
}

// Err is context.Canceled once the stream ended abnormally.
func (st *Stream) Err() error {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.err != nil {
		return context.Canceled
	}
	return nil
}

// Value is the connection context's.
func (st *Stream) Value(key any) any { return st.c.ctx.Value(key) }

// Cause is why the stream ended abnormally, or nil.
func (st *Stream) Cause() error {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	return st.err
}
