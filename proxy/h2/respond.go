package h2

import (
	"github.com/gantry-proxy/gantry/proxy/h1"
)

// WriteHead queues the response head: status, h's fields (names lower-cased,
// connection-specific ones dropped) and content-length when
// contentLength >= 0. A 1xx status may be followed by another head. It is
// written with the next Flush or Finish, END_STREAM included when the
// response ends there.
func (st *Stream) WriteHead(status int, h *h1.Header, contentLength int64) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.err != nil {
		return st.err
	}
	if st.headSent {
		return errFinished
	}
	if err := c.roomLocked(st); err != nil {
		return err
	}
	return c.queueHeaders(st, status, h, contentLength, false)
}

// Write queues DATA, as the client's flow-control windows allow: it waits
// for window (at most WriteTimeout) and for the queue to drain.
func (st *Stream) Write(p []byte) (int, error) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	written := 0
	for len(p) > 0 {
		if st.err != nil {
			return written, st.err
		}
		if st.localDone || !st.headSent {
			return written, errFinished
		}
		n := min(len(p), c.peerMaxFrame)
		n = int(min(int64(n), st.sendWindow, c.sendWindow))
		if n <= 0 {
			// Whatever is queued goes out first: the window may be
			// waiting on the client seeing it. The flush lets go of the
			// lock, so the windows are judged again after it, and the
			// stream joins the connection's waiters only with the lock
			// held until it waits: no update can pass unseen.
			c.flushLocked()
			if st.err != nil || (st.sendWindow > 0 && c.sendWindow > 0) {
				continue
			}
			if c.sendWindow <= 0 {
				c.windowWait = append(c.windowWait, st)
			}
			st.waitLocked(c.srv.o.WriteTimeout, false)
			continue
		}
		if err := c.roomLocked(st); err != nil {
			return written, err
		}
		st.lastOff, st.lastGen, st.lastOK = len(c.out), c.outGen, true
		c.out = appendFrameHeader(c.out, frameData, 0, st.id, n)
		c.out = append(c.out, p[:n]...)
		st.sendWindow -= int64(n)
		c.sendWindow -= int64(n)
		c.guard.useful(n)
		st.dataSent = true
		p = p[n:]
		written += n
	}
	return written, nil
}

// Flush writes what the stream queued (and whatever else is queued on the
// connection) to the client.
func (st *Stream) Flush() error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	if st.err != nil {
		return st.err
	}
	return c.werr
}

// Finish ends the response: trailer (when it has fields) as a last HEADERS,
// else END_STREAM on the last frame queued. It is written when the handler
// returns (or with any earlier flush), so that what the handler releases
// after finishing (an upstream connection back to its pool) is released
// before the client can send its next request. A request body
// the client is still sending is then refused with RST_STREAM NO_ERROR
// (RFC 9113 §8.1).
func (st *Stream) Finish(trailer *h1.Header) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.err != nil {
		return st.err
	}
	if st.localDone {
		return errFinished
	}
	if !st.headSent {
		return errFinished
	}
	if trailer != nil && trailer.Len() > 0 {
		if err := c.queueHeaders(st, 0, trailer, -1, true); err != nil {
			return err
		}
	} else if st.lastOK && st.lastGen == c.outGen {
		// The last frame is still queued: it carries END_STREAM, so a
		// response ends without a frame of its own.
		c.out[st.lastOff+4] |= flagEndStream
	} else {
		c.queueFrame(frameData, flagEndStream, st.id, nil)
	}
	st.localDone = true
	if !st.remoteDone {
		c.queueRST(st.id, ErrCodeNo)
		st.remoteDone = true
		st.failBodyLocked(ErrStreamReset)
	}
	c.forgetLocked(st)
	return c.werr
}

// Reset ends the stream with RST_STREAM code; the client learns the
// response is not whole. Resetting a finished stream does nothing.
func (st *Stream) Reset(code ErrCode) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.localDone || c.closed {
		return
	}
	c.queueRST(st.id, code)
	c.closeStreamLocked(st, ErrStreamReset)
	c.flushLocked()
}

// queueHeaders encodes a head (status > 0) or trailers (status 0, with
// END_STREAM) as HEADERS and CONTINUATION frames no larger than the
// client's frame size.
func (c *conn) queueHeaders(st *Stream, status int, h *h1.Header, contentLength int64, trailers bool) error {
	block := st.scratch[:0]
	if !trailers {
		block = appendStatus(block, status)
	}
	var err error
	block, c.scrach, err = appendFields(block, h, c.scrach)
	if err != nil {
		return err
	}
	if contentLength >= 0 {
		block = appendContentLength(block, contentLength)
	}
	st.scratch = block
	flags := uint8(0)
	if trailers {
		flags = flagEndStream
	}
	st.lastOff, st.lastGen, st.lastOK = len(c.out), c.outGen, !trailers
	first := true
	for first || len(block) > 0 {
		n := min(len(block), c.peerMaxFrame)
		typ, f := frameContinuation, uint8(0)
		if first {
			typ, f = frameHeaders, flags
		}
		if n == len(block) {
			f |= flagEndHeaders
		}
		c.out = appendFrameHeader(c.out, typ, f, st.id, n)
		c.out = append(c.out, block[:n]...)
		block = block[n:]
		first = false
	}
	if status >= 200 {
		st.headSent = true
	}
	return nil
}

// refuseLarge answers a request whose header list is over MaxHeaderBytes
// with 431 from the connection itself; no handler runs.
func (c *conn) refuseLarge(st *Stream, endStream bool) {
	c.countError("header_list_too_large")
	_ = c.queueHeaders(st, 431, nil, 0, false)
	c.out[st.lastOff+4] |= flagEndStream
	st.localDone = true
	if !endStream {
		c.queueRST(st.id, ErrCodeNo)
	}
	st.remoteDone = true
	c.forgetLocked(st)
	c.kick()
}
