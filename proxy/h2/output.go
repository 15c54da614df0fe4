package h2

import (
	"encoding/binary"
	"runtime"
	"time"
)

// Frames are queued in c.out under c.mu and written by whichever goroutine
// flushes first: a handler finishing its response writes the batch itself
// (no hand-off), and frames other streams queue meanwhile go out with the
// next batch, so many small frames leave in few TLS records. The read loop
// never writes: it kicks writeLoop, so a client that does not read cannot
// stop Gantry reading its frames (and so seeing its resets).

// maxQueued bounds the response bytes queued per connection: a handler
// waits for the writer beyond it.
const maxQueued = 64 << 10

// maxControlQueued bounds the answers (PING and SETTINGS acknowledgements,
// window updates, resets) queued beyond maxQueued for a client that does
// not read them.
const maxControlQueued = 256 << 10

// queueFrame queues a frame with payload p.
func (c *conn) queueFrame(typ frameType, flags uint8, stream uint32, p []byte) {
	if c.closed {
		return
	}
	c.out = appendFrameHeader(c.out, typ, flags, stream, len(p))
	c.out = append(c.out, p...)
}

func (c *conn) queueRST(id uint32, code ErrCode) {
	c.recentRST[c.recentNext%len(c.recentRST)] = id
	c.recentNext++
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(code))
	c.queueFrame(frameRSTStream, 0, id, p[:])
}

func (c *conn) queueWindowUpdate(id uint32, n int) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(n))
	c.queueFrame(frameWindowUpdate, 0, id, p[:])
}

// queueSettings queues the server's preface: SETTINGS, and the connection
// window beyond the default.
func (c *conn) queueSettings() {
	var p [18]byte
	binary.BigEndian.PutUint16(p[0:], settingMaxConcurrentStreams)
	binary.BigEndian.PutUint32(p[2:], c.srv.o.MaxConcurrentStreams)
	binary.BigEndian.PutUint16(p[6:], settingMaxHeaderListSize)
	binary.BigEndian.PutUint32(p[8:], uint32(c.srv.o.MaxHeaderBytes))
	binary.BigEndian.PutUint16(p[12:], settingInitialWindowSize)
	binary.BigEndian.PutUint32(p[14:], streamWindow)
	c.queueFrame(frameSettings, 0, 0, p[:])
	c.settingsUnacked++
	c.queueWindowUpdate(0, connWindow-65535)
}

// goAwayLocked queues GOAWAY naming the last stream served; only the
// first one for an error counts.
func (c *conn) goAwayLocked(code ErrCode, debug string) {
	if c.goAwaySent && (code == ErrCodeNo || c.goAwayErr) {
		return
	}
	last := c.maxID
	if c.drain == 2 && c.lastStream < last {
		last = c.lastStream
	}
	p := make([]byte, 8, 8+len(debug))
	binary.BigEndian.PutUint32(p[0:], last)
	binary.BigEndian.PutUint32(p[4:], uint32(code))
	p = append(p, debug...)
	c.queueFrame(frameGoAway, 0, 0, p)
	c.goAwaySent = true
	c.goAwayErr = code != ErrCodeNo
	c.drain = 2
	c.lastStream = last
}

// startDrainLocked begins a graceful close (RFC 9113 §6.8): a GOAWAY
// naming the largest stream ID, so requests already on their way are
// served, and a PING; its acknowledgement (or a second) means the client
// has seen the GOAWAY, and the final GOAWAY names the last stream opened.
func (c *conn) startDrainLocked() {
	if c.drain != 0 || c.closed {
		return
	}
	var p [8]byte
	binary.BigEndian.PutUint32(p[0:], maxWindow)
	c.queueFrame(frameGoAway, 0, 0, p[:])
	c.queueFrame(framePing, 0, 0, drainPing[:])
	c.drain = 1
	c.drainAt = time.Now()
	c.kick()
}

// finalGoAwayLocked is the drain's second step.
func (c *conn) finalGoAwayLocked() {
	c.drain = 2
	c.lastStream = c.maxID
	var p [8]byte
	binary.BigEndian.PutUint32(p[0:], c.lastStream)
	c.queueFrame(frameGoAway, 0, 0, p[:])
	c.goAwaySent = true
	c.kick()
	c.maybeFinishLocked()
}

// maybeFinishLocked ends a drained connection once nothing runs on it.
func (c *conn) maybeFinishLocked() {
	if c.drain == 2 && len(c.streams) == 0 && c.running == 0 && !c.closing {
		c.closing = true
		c.kick()
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// idleCheckLocked notes when the connection became idle, and finishes a
// drain.
func (c *conn) idleCheckLocked() {
	if len(c.streams) == 0 && c.running == 0 {
		if c.idleSince.IsZero() {
			c.idleSince = time.Now()
		}
		c.maybeFinishLocked()
	}
}

// recvAvailable is what the client may still send on the connection.
func (c *conn) recvAvailable() int64 { return int64(connWindow - c.recvTaken) }

// consumedLocked returns n bytes to the client's windows once half of a
// window is used up: the connection's always, st's (when not nil and
// still receiving) too. It reports whether it queued a WINDOW_UPDATE.
func (c *conn) consumedLocked(st *Stream, n int) bool {
	queued := false
	c.recvUnack += n
	if c.recvUnack >= connWindow/2 {
		c.queueWindowUpdate(0, c.recvUnack)
		c.recvTaken -= c.recvUnack
		c.recvUnack = 0
		queued = true
	}
	if st == nil || st.remoteDone {
		return queued
	}
	st.unack += n
	if st.unack >= streamWindow/2 {
		c.queueWindowUpdate(st.id, st.unack)
		st.recvWindow += st.unack
		st.unack = 0
		queued = true
	}
	return queued
}

// roomLocked waits until the queue has room for more response bytes,
// writing it itself when no one else is.
func (c *conn) roomLocked(st *Stream) error {
	for len(c.out) >= maxQueued {
		if c.werr != nil || c.closed {
			return ErrConnClosed
		}
		if st.err != nil {
			return st.err
		}
		if !c.writing {
			c.flushLocked()
			continue
		}
		c.roomWait = append(c.roomWait, st)
		st.waitLocked(c.srv.o.WriteTimeout, false)
	}
	if c.closed {
		return ErrConnClosed
	}
	return nil
}

// flushLocked writes the queue unless another goroutine is writing (it
// takes what was queued meanwhile before it stops).
func (c *conn) flushLocked() {
	if c.writing || len(c.out) == 0 {
		return
	}
	c.writing = true
	for len(c.out) > 0 && c.werr == nil {
		batch := c.out
		c.out, c.spare = c.spare[:0], nil
		c.outGen++
		c.mu.Unlock()
		err := c.write(batch)
		c.mu.Lock()
		if cap(batch) <= 4*maxQueued {
			c.spare = batch[:0]
		}
		if err != nil {
			c.werr = err
			c.out = c.out[:0]
			c.closing = true
			_ = c.nc.SetReadDeadline(time.Unix(1, 0))
		}
		for _, st := range c.roomWait {
			st.cond.Broadcast()
		}
		c.roomWait = c.roomWait[:0]
	}
	c.writing = false
	if c.werr != nil {
		c.closeStreamsLocked(ErrConnClosed)
	}
	c.allDone.Broadcast()
}

// write writes one batch under the write deadline. The deadline is moved
// only when less than 3/4 of it is left: moving it costs a timer update,
// and batches come close together.
func (c *conn) write(b []byte) error {
	if t := c.srv.o.WriteTimeout; t > 0 {
		now := time.Now()
		if now.Sub(c.armedAt) > t/4 {
			c.armedAt = now
			_ = c.nc.SetWriteDeadline(now.Add(t))
		}
	}
	_, err := c.nc.Write(b)
	return err
}

// kick has writeLoop write what the read loop queued.
func (c *conn) kick() {
	if c.writing || len(c.out) == 0 {
		return
	}
	select {
	case c.writerKick <- struct{}{}:
	default:
	}
}

// writeLoop writes for the read loop until the connection ends.
func (c *conn) writeLoop() {
	for range c.writerKick {
		// Let the goroutines already runnable (other streams' handlers,
		// woken by their upstreams) queue their frames first: they go
		// out in the same write.
		runtime.Gosched()
		c.mu.Lock()
		c.flushLocked()
		c.mu.Unlock()
	}
}

// resetByUs reports whether Gantry recently reset stream id: frames the
// client sent on it before seeing the reset are then ignored, not errors.
func (c *conn) resetByUs(id uint32) bool {
	for _, r := range c.recentRST {
		if r == id {
			return true
		}
	}
	return false
}
