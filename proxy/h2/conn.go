package h2

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"
)

// clientPreface is what every HTTP/2 client sends first (RFC 9113 §3.4).
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// The receive windows Gantry advertises. A stream's is the protocol's
// default, so a client may send a small body whole before the proxy reads
// it, and a stream never buffers more; the connection's is larger, so a
// few uploads at once do not wait on each other.
const (
	streamWindow = 65535
	connWindow   = 1 << 20
)

// conn is one HTTP/2 server connection. Its read loop (serve) is the only
// reader of nc and processes every frame under mu; stream handlers run on
// their own goroutines and take mu to read bodies and queue frames.
type conn struct {
	srv     *Server
	nc      net.Conn
	ctx     context.Context
	handler Handler
	br      *bufio.Reader
	fr      *frameReader
	dec     *hpack.Decoder
	remote  string

	mu      sync.Mutex
	streams map[uint32]*Stream
	maxID   uint32 // the highest stream a client opened
	running int    // handlers not yet returned, reset streams included
	allDone sync.Cond

	blk    headerBlock // the header block being received, if blk.stream != 0
	inBlk  bool
	scrach []byte

	// Settings the client sent.
	peerWindow   int64 // SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxFrame int

	// settingsUnacked counts the server's SETTINGS frames the client has
	// not acknowledged; an ACK for none is a protocol error, as x/net has it.
	settingsUnacked int

	sendWindow int64 // connection-level window the client gave
	recvTaken  int   // connection-level bytes received, not yet returned
	recvUnack  int   // of those, consumed (read or dropped)

	out        []byte // frames queued, not yet written
	spare      []byte
	outGen     uint64 // counts the batches taken by writers
	writing    bool   // a goroutine is writing a batch
	werr       error
	armedAt    time.Time // when the write deadline was last set
	writerKick chan struct{}
	roomWait   []*Stream // waiting for the queue to drain
	windowWait []*Stream // waiting for connection window

	guard guard

	// The streams Gantry reset last (RFC 9113 §5.4.2 lets late frames on
	// them be ignored); a ring, so a flood of resets costs nothing more.
	recentRST  [32]uint32
	recentNext int

	closing    bool // the read loop is to stop (GOAWAY sent, idle, drained)
	closed     bool // streams aborted; nothing more is queued
	goAwaySent bool
	goAwayErr  bool
	lingering  bool // after an error GOAWAY: read and drop for a while

	drain      int // 0; 1: first GOAWAY and PING sent; 2: final GOAWAY sent
	drainAt    time.Time
	lastStream uint32 // after the final GOAWAY, streams above are ignored
	idleSince  time.Time

	sweepTimer   *time.Timer
	drainOnStart bool
}

// drainPing is the payload of the PING that times the graceful GOAWAY.
var drainPing = [8]byte{'g', 'a', 'n', 't', 'r', 'y', 'g', 'o'}

func (s *Server) newConn(ctx context.Context, nc net.Conn, h Handler) *conn {
	c := &conn{
		srv:          s,
		nc:           nc,
		ctx:          ctx,
		handler:      h,
		streams:      make(map[uint32]*Stream),
		peerWindow:   65535,
		peerMaxFrame: defaultMaxFrameSize,
		sendWindow:   65535,
		writerKick:   make(chan struct{}, 1),
		idleSince:    time.Now(),
	}
	if ra := nc.RemoteAddr(); ra != nil {
		c.remote = ra.String()
	}
	c.allDone.L = &c.mu
	c.br = bufio.NewReaderSize(nc, 4096)
	c.fr = newFrameReader(c.br)
	c.dec = hpack.NewDecoder(4096, c.onField)
	c.dec.SetMaxStringLength(s.o.MaxHeaderBytes)
	return c
}

// serve runs the connection to its end.
func (c *conn) serve() {
	go c.writeLoop()
	c.mu.Lock()
	c.queueSettings()
	if c.drainOnStart {
		c.startDrainLocked()
	}
	c.kick()
	c.sweepTimer = time.AfterFunc(c.srv.sweepEvery, c.sweep)
	c.mu.Unlock()
	stop := context.AfterFunc(c.ctx, func() { c.stop(ErrCodeNo) })

	err := c.readPreface()
	if err == nil {
		err = c.readLoop()
	}
	c.mu.Lock()
	if pe, ok := err.(*protoError); ok {
		c.countError(pe.reason)
		code := pe.code
		c.goAwayLocked(code, "")
		c.lingering = code != ErrCodeEnhanceYourCalm
	}
	c.closeStreamsLocked(ErrConnClosed)
	c.kick()
	// What is queued (a GOAWAY, the last responses) goes out before the
	// close; the write deadline bounds a client that does not read.
	for (c.writing || len(c.out) > 0) && c.werr == nil {
		c.allDone.Wait()
	}
	linger := c.lingering
	c.mu.Unlock()
	if linger {
		c.discardInput()
	}
	stop()
	c.sweepTimer.Stop()
	_ = c.nc.Close()
	c.mu.Lock()
	for c.running > 0 {
		c.allDone.Wait()
	}
	c.mu.Unlock()
	close(c.writerKick)
}

// discardInput reads and drops what the client still sends for a short
// while after an error GOAWAY, so that closing does not reset the TCP
// connection before the client has read the GOAWAY.
func (c *conn) discardInput() {
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.CopyN(io.Discard, c.br, 1<<20)
}

func (c *conn) readPreface() error {
	if t := c.srv.o.PrefaceTimeout; t > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(t))
	}
	var p [len(clientPreface)]byte
	if _, err := io.ReadFull(c.br, p[:]); err != nil {
		return err
	}
	if string(p[:]) != clientPreface {
		return connError(ErrCodeProtocol, "bad client preface")
	}
	h, payload, err := c.fr.next()
	if err != nil {
		return c.readError(h, err)
	}
	if h.typ != frameSettings || h.has(flagAck) {
		return connError(ErrCodeProtocol, "preface not followed by SETTINGS")
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.processFrame(h, payload)
}

// readError turns a read failure into what the connection does about it.
func (c *conn) readError(h frameHeader, err error) error {
	if errors.Is(err, errFrameTooLarge) {
		return connError(ErrCodeFrameSize, "frame too large")
	}
	return err
}

func (c *conn) readLoop() error {
	for {
		h, payload, err := c.fr.next()
		if err != nil {
			c.mu.Lock()
			closing := c.closing
			c.mu.Unlock()
			if closing && errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return c.readError(h, err)
		}
		c.mu.Lock()
		err = c.processFrame(h, payload)
		if pe, ok := err.(*protoError); ok && pe.stream != 0 {
			c.countError(pe.reason)
			c.resetStreamLocked(pe.stream, pe.code, true)
			err = nil
		}
		if err == nil && c.guard.calm != "" {
			reason := c.guard.calm
			if c.srv.o.OnCalm != nil {
				c.srv.o.OnCalm(c.remote, reason)
			}
			err = connError(ErrCodeEnhanceYourCalm, reason)
		}
		if err == nil && len(c.out) > maxQueued+maxControlQueued {
			// The client sends frames that need answers and does not
			// read them (PING or SETTINGS floods against a stalled
			// reader).
			err = connError(ErrCodeEnhanceYourCalm, "client does not read its answers")
		}
		if err == nil && c.br.Buffered() == 0 {
			c.kick()
		}
		closing := c.closing
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if closing {
			return nil
		}
	}
}

// stop ends the connection from the server's side: GOAWAY with code, then
// the read loop ends.
func (c *conn) stop(code ErrCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAwayLocked(code, "")
	c.closing = true
	c.kick()
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

func (c *conn) countError(kind string) {
	if c.srv.o.CountError != nil {
		c.srv.o.CountError(kind)
	}
}

// closeStreamsLocked ends every stream: their handlers see err.
func (c *conn) closeStreamsLocked(err error) {
	c.closed = true
	c.closing = true
	for id, st := range c.streams {
		st.abortLocked(err)
		delete(c.streams, id)
		st.inMap = false
		c.releaseLocked(st)
	}
	c.wakeAllLocked()
}

// wakeAllLocked wakes every goroutine waiting on the connection.
func (c *conn) wakeAllLocked() {
	for _, st := range c.roomWait {
		st.cond.Broadcast()
	}
	for _, st := range c.windowWait {
		st.cond.Broadcast()
	}
	c.roomWait, c.windowWait = c.roomWait[:0], c.windowWait[:0]
	c.allDone.Broadcast()
}
