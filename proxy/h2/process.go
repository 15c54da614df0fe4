package h2

import (
	"encoding/binary"
)

// processFrame applies one frame; it runs under c.mu, on the read loop.
// A *protoError it returns is a stream error (RST_STREAM) when its stream
// is set, a connection error (GOAWAY) otherwise.
func (c *conn) processFrame(h frameHeader, p []byte) error {
	if c.inBlk && h.typ != frameContinuation {
		return connError(ErrCodeProtocol, "frame inside a header block")
	}
	switch h.typ {
	case frameData:
		return c.onData(h, p)
	case frameHeaders:
		return c.onHeaders(h, p)
	case frameContinuation:
		return c.onContinuation(h, p)
	case framePriority:
		c.guard.junk(h)
		return c.onPriority(h, p)
	case frameRSTStream:
		c.guard.junk(h)
		return c.onRSTStream(h, p)
	case frameSettings:
		c.guard.junk(h)
		return c.onSettings(h, p)
	case framePushPromise:
		return connError(ErrCodeProtocol, "PUSH_PROMISE from a client")
	case framePing:
		c.guard.junk(h)
		return c.onPing(h, p)
	case frameGoAway:
		return c.onGoAway(h, p)
	case frameWindowUpdate:
		c.guard.junk(h)
		return c.onWindowUpdate(h, p)
	default:
		// Unknown frame types are ignored (RFC 9113 §4.1), and cost.
		c.guard.junk(h)
		return nil
	}
}

// idle reports whether stream id was never opened: by the client, or,
// for an even id, by the server, which never pushes.
func (c *conn) idle(id uint32) bool { return id%2 == 0 || id > c.maxID }

func (c *conn) onData(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError(ErrCodeProtocol, "DATA on stream 0")
	}
	n := int(h.length)
	if int64(n) > c.recvAvailable() {
		return connError(ErrCodeFlowControl, "DATA beyond the connection window")
	}
	data, pad, err := unpad(h, p)
	if err != nil {
		return err
	}
	c.recvTaken += n
	st := c.streams[h.stream]
	if st == nil || st.remoteDone {
		// Closed, reset, or half-closed (remote): the bytes still count
		// against the connection's window, so they are given back.
		c.guard.junk(h)
		c.consumedLocked(nil, n)
		if c.idle(h.stream) {
			return connError(ErrCodeProtocol, "DATA on an idle stream")
		}
		if st == nil && c.resetByUs(h.stream) {
			// Frames the client sent before it saw the reset (RFC 9113
			// §5.4.2) are ignored.
			return nil
		}
		return streamError(h.stream, ErrCodeStreamClosed, "DATA on a closed stream")
	}
	if n > st.recvWindow {
		c.consumedLocked(nil, n)
		return streamError(h.stream, ErrCodeFlowControl, "DATA beyond the stream window")
	}
	st.recvWindow -= n
	if len(data) == 0 && !h.has(flagEndStream) {
		c.guard.junk(h)
	} else {
		c.guard.useful(len(data))
	}
	if pad > 0 {
		// Padding is never read by anyone: returned at once.
		c.consumedLocked(st, pad)
	}
	st.got += int64(len(data))
	if st.declared >= 0 && st.got > st.declared {
		c.consumedLocked(st, len(data))
		st.failBodyLocked(ErrBodyLength)
		return streamError(h.stream, ErrCodeProtocol, "DATA beyond content-length")
	}
	st.body = append(st.body, data...)
	if h.has(flagEndStream) {
		if st.declared >= 0 && st.got != st.declared {
			st.failBodyLocked(ErrBodyLength)
			return streamError(h.stream, ErrCodeProtocol, "DATA short of content-length")
		}
		c.remoteDoneLocked(st)
	}
	st.cond.Broadcast()
	return nil
}

func (c *conn) onHeaders(h frameHeader, p []byte) error {
	id := h.stream
	if id == 0 {
		return connError(ErrCodeProtocol, "HEADERS on stream 0")
	}
	frag, _, err := unpad(h, p)
	if err != nil {
		return err
	}
	selfDep := false
	if h.has(flagPriority) {
		if len(frag) < 5 {
			return connError(ErrCodeFrameSize, "HEADERS priority fields cut")
		}
		selfDep = binary.BigEndian.Uint32(frag[:4])&maxWindow == id
		frag = frag[5:]
	}
	st := c.streams[id]
	switch {
	case st != nil:
		// Trailers (RFC 9113 §8.1).
		if st.remoteDone {
			c.blk.reset(id, nil, true)
			c.blk.malformed = "HEADERS on a half-closed stream"
		} else {
			c.blk.reset(id, st, true)
			st.trailer.Reset()
		}
	case id%2 == 0:
		return connError(ErrCodeProtocol, "HEADERS on an even stream")
	case id <= c.maxID && c.resetByUs(id):
		// Trailers of a stream Gantry reset, in flight: decoded for
		// the HPACK state, then ignored.
		c.blk.reset(id, nil, true)
		c.blk.ignore = true
	case id <= c.maxID:
		return connError(ErrCodeProtocol, "HEADERS on a closed stream")
	default:
		c.maxID = id
		c.guard.opened++
		c.blk.reset(id, nil, false)
		if c.accepting(id) {
			st = c.newStreamLocked(id)
			c.blk.st = st
		}
	}
	c.blk.endStream = h.has(flagEndStream)
	c.blk.priority = selfDep
	// Decoded in full even when not served: a bad string is then the
	// connection's error whether or not the stream is served.
	c.dec.SetEmitEnabled(true)
	c.inBlk = true
	return c.fragment(h, frag)
}

// accepting reports whether a new stream id is served: not after the final
// GOAWAY named a lower one.
func (c *conn) accepting(id uint32) bool {
	return !(c.drain == 2 && id > c.lastStream) && !c.closing
}

func (c *conn) onContinuation(h frameHeader, p []byte) error {
	if !c.inBlk || h.stream != c.blk.stream {
		return connError(ErrCodeProtocol, "CONTINUATION without its HEADERS")
	}
	if len(p) == 0 && !h.has(flagEndHeaders) {
		c.guard.junk(h)
	}
	return c.fragment(h, p)
}

// fragment feeds one piece of a header block to the decoder. The raw size
// is capped as it arrives: a CONTINUATION flood is refused long before it
// could be decoded.
func (c *conn) fragment(h frameHeader, frag []byte) error {
	b := &c.blk
	b.raw += len(frag)
	if b.raw > c.srv.maxRawBlock {
		return connError(ErrCodeEnhanceYourCalm, "header block too large")
	}
	if _, err := c.dec.Write(frag); err != nil {
		return connError(ErrCodeCompression, "HPACK: "+err.Error())
	}
	if !h.has(flagEndHeaders) {
		return nil
	}
	c.inBlk = false
	if err := c.dec.Close(); err != nil {
		return connError(ErrCodeCompression, "HPACK: "+err.Error())
	}
	c.guard.useful(b.raw)
	return c.endBlock()
}

// endBlock acts on a complete header block.
func (c *conn) endBlock() error {
	b := &c.blk
	st := b.st
	id := b.stream
	b.stream = 0
	if b.priority {
		if st != nil && !b.trailer {
			c.dropNewLocked(st)
		}
		return streamError(id, ErrCodeProtocol, "stream depends on itself")
	}
	if b.trailer {
		if b.ignore {
			return nil
		}
		if b.malformed == "HEADERS on a half-closed stream" {
			return streamError(id, ErrCodeStreamClosed, b.malformed)
		}
		if !b.endStream {
			return streamError(id, ErrCodeProtocol, "trailers without END_STREAM")
		}
		if b.malformed != "" || b.tooLarge {
			st.failBodyLocked(ErrStreamReset)
			return streamError(id, ErrCodeProtocol, "malformed trailers")
		}
		st.hasTrailer = true
		if st.declared >= 0 && st.got != st.declared {
			st.failBodyLocked(ErrBodyLength)
			return streamError(id, ErrCodeProtocol, "DATA short of content-length")
		}
		c.remoteDoneLocked(st)
		st.cond.Broadcast()
		return nil
	}
	if st == nil {
		return nil // not served; decoded for the HPACK state only
	}
	if b.tooLarge {
		c.refuseLarge(st, b.endStream)
		return nil
	}
	b.checkRequest()
	if b.malformed != "" {
		c.dropNewLocked(st)
		c.guard.serverReset()
		return streamError(id, ErrCodeProtocol, b.malformed)
	}
	if len(c.streams) > int(c.srv.o.MaxConcurrentStreams) || c.running >= int(c.srv.o.MaxConcurrentStreams) {
		// Over the advertised limit, or the handlers of streams the client
		// (or the server) already reset still run: their slots are not
		// free yet (CVE-2025-8671).
		c.dropNewLocked(st)
		c.guard.serverReset()
		return streamError(id, ErrCodeRefusedStream, "too many streams")
	}
	st.method, st.scheme, st.authority, st.path = b.method, b.scheme, b.authority, b.path
	st.declared = b.declared
	st.expect = b.expect
	if b.cookies > 1 {
		c.scrach = joinCookies(&st.hdr, c.scrach)
	}
	if b.endStream {
		st.remoteDone = true
	}
	c.idleSince = timeZero
	c.running++
	st.running = true
	c.srv.workers.run(st)
	return nil
}

func (c *conn) onPriority(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError(ErrCodeProtocol, "PRIORITY on stream 0")
	}
	if len(p) != 5 {
		return streamError(h.stream, ErrCodeFrameSize, "PRIORITY not 5 octets")
	}
	if binary.BigEndian.Uint32(p[:4])&maxWindow == h.stream {
		return streamError(h.stream, ErrCodeProtocol, "stream depends on itself")
	}
	return nil
}

func (c *conn) onRSTStream(h frameHeader, p []byte) error {
	if len(p) != 4 {
		return connError(ErrCodeFrameSize, "RST_STREAM not 4 octets")
	}
	if h.stream == 0 {
		return connError(ErrCodeProtocol, "RST_STREAM on stream 0")
	}
	if c.idle(h.stream) {
		return connError(ErrCodeProtocol, "RST_STREAM on an idle stream")
	}
	st := c.streams[h.stream]
	if st == nil {
		return nil
	}
	if st.running && !st.localDone {
		c.guard.clientReset()
	}
	c.closeStreamLocked(st, ErrStreamReset)
	return nil
}

// Settings identifiers (RFC 9113 §6.5.2).
const (
	settingHeaderTableSize      = 0x1
	settingEnablePush           = 0x2
	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
	settingMaxFrameSize         = 0x5
	settingMaxHeaderListSize    = 0x6
	// RFC 8441 §3; only its value is checked: Gantry never enables it.
	settingEnableConnectProtocol = 0x8
)

func (c *conn) onSettings(h frameHeader, p []byte) error {
	if h.stream != 0 {
		return connError(ErrCodeProtocol, "SETTINGS on a stream")
	}
	if h.has(flagAck) {
		if len(p) != 0 {
			return connError(ErrCodeFrameSize, "SETTINGS ACK with a payload")
		}
		if c.settingsUnacked == 0 {
			return connError(ErrCodeProtocol, "SETTINGS ACK for no SETTINGS sent")
		}
		c.settingsUnacked--
		return nil
	}
	if len(p)%6 != 0 {
		return connError(ErrCodeFrameSize, "SETTINGS not a multiple of 6 octets")
	}
	// Values are applied in order, duplicates included (RFC 9113 §6.5.3).
	for ; len(p) > 0; p = p[6:] {
		v := binary.BigEndian.Uint32(p[2:6])
		switch binary.BigEndian.Uint16(p[:2]) {
		case settingEnablePush:
			if v > 1 {
				return connError(ErrCodeProtocol, "SETTINGS_ENABLE_PUSH not 0 or 1")
			}
		case settingInitialWindowSize:
			if v > maxWindow {
				return connError(ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE too large")
			}
			if err := c.setPeerWindowLocked(int64(v)); err != nil {
				return err
			}
		case settingEnableConnectProtocol:
			if v > 1 {
				return connError(ErrCodeProtocol, "SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1")
			}
		case settingMaxFrameSize:
			if v < defaultMaxFrameSize || v > 1<<24-1 {
				return connError(ErrCodeProtocol, "SETTINGS_MAX_FRAME_SIZE out of range")
			}
			c.peerMaxFrame = int(v)
		}
		// HEADER_TABLE_SIZE needs nothing: responses never use the
		// dynamic table. MAX_CONCURRENT_STREAMS bounds pushes, which
		// Gantry never makes; MAX_HEADER_LIST_SIZE is advisory.
	}
	c.queueFrame(frameSettings, flagAck, 0, nil)
	return nil
}

// setPeerWindowLocked applies a new SETTINGS_INITIAL_WINDOW_SIZE to every
// stream's send window (RFC 9113 §6.9.2).
func (c *conn) setPeerWindowLocked(v int64) error {
	delta := v - c.peerWindow
	c.peerWindow = v
	for _, st := range c.streams {
		st.sendWindow += delta
		if st.sendWindow > maxWindow {
			return connError(ErrCodeFlowControl, "stream window overflow")
		}
		if delta > 0 {
			st.cond.Broadcast()
		}
	}
	return nil
}

func (c *conn) onPing(h frameHeader, p []byte) error {
	if len(p) != 8 {
		return connError(ErrCodeFrameSize, "PING not 8 octets")
	}
	if h.stream != 0 {
		return connError(ErrCodeProtocol, "PING on a stream")
	}
	if h.has(flagAck) {
		if c.drain == 1 && [8]byte(p) == drainPing {
			c.finalGoAwayLocked()
		}
		return nil
	}
	c.queueFrame(framePing, flagAck, 0, p)
	return nil
}

func (c *conn) onGoAway(h frameHeader, p []byte) error {
	if h.stream != 0 {
		return connError(ErrCodeProtocol, "GOAWAY on a stream")
	}
	if len(p) < 8 {
		return connError(ErrCodeFrameSize, "GOAWAY shorter than 8 octets")
	}
	// The client opens nothing more; what it opened is finished, then the
	// connection closes, with a GOAWAY of Gantry's own.
	c.goAwayLocked(ErrCodeNo, "")
	c.maybeFinishLocked()
	return nil
}

func (c *conn) onWindowUpdate(h frameHeader, p []byte) error {
	if len(p) != 4 {
		return connError(ErrCodeFrameSize, "WINDOW_UPDATE not 4 octets")
	}
	inc := int64(binary.BigEndian.Uint32(p) & maxWindow)
	if h.stream == 0 {
		if inc == 0 {
			return connError(ErrCodeProtocol, "WINDOW_UPDATE of 0")
		}
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return connError(ErrCodeFlowControl, "connection window overflow")
		}
		for _, st := range c.windowWait {
			st.cond.Broadcast()
		}
		c.windowWait = c.windowWait[:0]
		return nil
	}
	if c.idle(h.stream) {
		return connError(ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
	}
	st := c.streams[h.stream]
	if inc == 0 {
		if st == nil {
			return nil
		}
		return streamError(h.stream, ErrCodeProtocol, "WINDOW_UPDATE of 0")
	}
	if st == nil {
		return nil
	}
	st.sendWindow += inc
	if st.sendWindow > maxWindow {
		return streamError(h.stream, ErrCodeFlowControl, "stream window overflow")
	}
	st.cond.Broadcast()
	return nil
}
