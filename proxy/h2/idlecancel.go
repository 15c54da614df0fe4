package h2

import (
	"encoding/binary"
	"sync"
	"time"
)

// idleCancel makes the reset of an HTTP/2 stream whose request body went
// idle carry CANCEL, as h2_stream_idle promises, instead of INTERNAL_ERROR.
//
// x/net's server (v0.62) resets a stream whose handler gives up with
// INTERNAL_ERROR and offers handlers neither another code nor their stream
// ID. So the decision is taken on the wire, where both sides of the
// connection pass through writeConn in plaintext: inbound frames record,
// per stream the client has not finished sending, when its last HEADERS or
// non-empty DATA frame arrived; an outbound RST_STREAM INTERNAL_ERROR for a
// stream that is still open on the client's side and has been silent for
// at least the idle limit is rewritten to CANCEL. That is exactly the
// stream-idle reset: the handler's deadline is set when it starts a read
// that then gets nothing, which is after the last frame that fed it, so
// such a stream is always silent for at least the limit when its reset is
// written. A stream reset for another reason while its client has also
// been silent that long is cancelled as well, which says the same thing.
//
// Only the error code's last byte changes (INTERNAL_ERROR is 0x2, CANCEL
// 0x8), so a frame split across writes is handled byte by byte and
// nothing is ever inserted or removed.
type idleCancel struct {
	idle  time.Duration
	start time.Time // origin of the monotonic stamps in open

	mu   sync.Mutex
	open map[uint32]time.Duration // stream → last inbound HEADERS/DATA, since start

	in  frameScanner // used by x/net's single reading goroutine only
	out frameScanner // used under writeConn.mu only
}

// idleCancelMaxStreams bounds the streams tracked per connection; a
// stream beyond it is reset with x/net's code unchanged. x/net refuses
// streams past its concurrency limit (100 by default) with a reset, which
// removes them from the table.
const idleCancelMaxStreams = 1024

// HTTP/2 frame types, flags and error codes used here (RFC 9113 §6, §7).
const (
	frameHeaderLen   = 9
	frameData        = 0x0
	frameHeaders     = 0x1
	frameRSTStream   = 0x3
	flagEndStream    = 0x1
	codeInternal     = 0x2
	codeCancel       = 0x8
	clientPrefaceLen = len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
)

func newIdleCancel(idle time.Duration) *idleCancel {
	return &idleCancel{
		idle:  idle,
		start: time.Now(),
		open:  make(map[uint32]time.Duration),
		in:    frameScanner{skip: clientPrefaceLen},
	}
}

// frameScanner follows frame boundaries in a byte stream that arrives in
// pieces of any size.
type frameScanner struct {
	skip   int // bytes still to pass before the first frame (the preface)
	hdr    [frameHeaderLen]byte
	nhdr   int // bytes of hdr filled
	remain int // payload bytes of the current frame not yet passed

	// The current frame's header.
	length int
	typ    byte
	flags  byte
	stream uint32

	codeHigh byte // RST_STREAM: OR of the error code's first three bytes
}

// advance consumes p from i: the rest of the current payload, or header
// bytes. It returns where it stopped and whether a header just completed,
// which the caller handles before calling again.
func (f *frameScanner) advance(p []byte, i int) (int, bool) {
	if f.skip > 0 {
		n := min(f.skip, len(p)-i)
		f.skip -= n
		return i + n, false
	}
	if f.remain > 0 {
		n := min(f.remain, len(p)-i)
		f.remain -= n
		return i + n, false
	}
	n := copy(f.hdr[f.nhdr:], p[i:])
	f.nhdr += n
	i += n
	if f.nhdr < frameHeaderLen {
		return i, false
	}
	f.nhdr = 0
	f.length = int(f.hdr[0])<<16 | int(f.hdr[1])<<8 | int(f.hdr[2])
	f.typ = f.hdr[3]
	f.flags = f.hdr[4]
	f.stream = binary.BigEndian.Uint32(f.hdr[5:]) &^ (1 << 31)
	f.remain = f.length
	return i, true
}

// inbound follows what the client sent; p is what one Read returned.
func (c *idleCancel) inbound(p []byte) {
	f := &c.in
	var now time.Duration
	stamped := false
	for i := 0; i < len(p); {
		var complete bool
		i, complete = f.advance(p, i)
		if !complete || f.stream == 0 {
			continue
		}
		switch f.typ {
		case frameHeaders, frameData:
			if !stamped {
				now, stamped = time.Since(c.start), true
			}
			c.mu.Lock()
			if f.flags&flagEndStream != 0 {
				delete(c.open, f.stream)
			} else if _, known := c.open[f.stream]; known {
				// An empty DATA frame feeds no read, so it does not
				// count as activity.
				if f.typ == frameHeaders || f.length > 0 {
					c.open[f.stream] = now
				}
			} else if f.typ == frameHeaders && len(c.open) < idleCancelMaxStreams {
				c.open[f.stream] = now
			}
			c.mu.Unlock()
		case frameRSTStream:
			c.forget(f.stream)
		}
	}
}

// outbound follows what the server writes and rewrites the code of a
// stream-idle reset. p is patched in place when mutable; otherwise a
// patched copy is returned, and p is never changed.
func (c *idleCancel) outbound(p []byte, mutable bool) []byte {
	f := &c.out
	for i := 0; i < len(p); {
		if f.typ == frameRSTStream && f.length == 4 && f.remain > 0 && f.skip == 0 {
			// The error code, one byte at a time (it may be split).
			if f.remain > 1 {
				f.codeHigh |= p[i]
			} else {
				// Any reset ends the stream, so it is forgotten either way.
				idle := c.forget(f.stream)
				if f.codeHigh == 0 && p[i] == codeInternal && idle {
					if !mutable {
						p = append([]byte(nil), p...)
						mutable = true
					}
					p[i] = codeCancel
				}
			}
			f.remain--
			i++
			continue
		}
		var complete bool
		i, complete = f.advance(p, i)
		if complete && f.typ == frameRSTStream {
			f.codeHigh = 0
		}
	}
	return p
}

// forget stops tracking stream and reports whether the client had left it
// open and sent nothing on it for at least the idle limit.
func (c *idleCancel) forget(stream uint32) (idle bool) {
	c.mu.Lock()
	last, open := c.open[stream]
	delete(c.open, stream)
	c.mu.Unlock()
	return open && time.Since(c.start)-last >= c.idle
}
