package h2

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// MaxConcurrentStreams is advertised and enforced; handlers of reset
	// streams still count until they return.
	MaxConcurrentStreams uint32
	// IdleTimeout closes a connection with no stream open this long.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client, and how long a
	// response waits for flow-control window.
	WriteTimeout time.Duration
	// StreamIdle resets (CANCEL) a stream whose request body sends
	// nothing this long while a handler waits for it.
	StreamIdle time.Duration
	// PrefaceTimeout bounds the client preface and its first SETTINGS.
	PrefaceTimeout time.Duration
	// MaxHeaderBytes bounds a request's header list as
	// SETTINGS_MAX_HEADER_LIST_SIZE counts it (a larger one is answered
	// 431), and its raw header block (a larger one ends the connection).
	MaxHeaderBytes int
	// MaxHeaderCount bounds a request's fields (0: no bound but the size).
	MaxHeaderCount int
	// CountError is told the kind of every protocol error a client makes.
	CountError func(kind string)
	// OnCalm is told when a connection is ended with ENHANCE_YOUR_CALM
	// (rapid reset, floods), with the client's address and why.
	OnCalm func(remote, reason string)
	// Workers, when set, runs the handlers.
	Workers *Workers
}

// Handler serves one stream; it is called on its own goroutine. When it
// returns without finishing the response, the stream is reset.
type Handler func(st *Stream)

// Server is the HTTP/2 server of one listener.
type Server struct {
	o           ServerOptions
	workers     *Workers
	sweepEvery  time.Duration
	maxRawBlock int

	mu       sync.Mutex
	conns    map[*conn]struct{}
	draining bool
	gone     chan struct{} // signalled when a connection ends
}

// NewServer makes a server; nothing is served until ServeConn.
func NewServer(o ServerOptions) (*Server, error) {
	if o.MaxConcurrentStreams == 0 {
		return nil, errors.New("h2: MaxConcurrentStreams must be set")
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	s := &Server{
		o:          o,
		workers:    o.Workers,
		sweepEvery: sweepPeriod(o.IdleTimeout, o.WriteTimeout, o.StreamIdle),
		// HPACK's Huffman code makes a block smaller than its fields;
		// a block much larger than the fields allowed is padding or
		// table updates, and only a flood sends that.
		maxRawBlock: o.MaxHeaderBytes + 16<<10,
		conns:       make(map[*conn]struct{}),
		gone:        make(chan struct{}, 1),
	}
	return s, nil
}

// ServeConn serves HTTP/2 on c, a connection that negotiated "h2", until
// the client, ctx or Shutdown ends it. It closes c and returns when every
// handler has returned.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, h Handler) {
	cn := s.newConn(ctx, c, h)
	s.mu.Lock()
	cn.drainOnStart = s.draining
	s.conns[cn] = struct{}{}
	s.mu.Unlock()
	cn.serve()
	s.mu.Lock()
	delete(s.conns, cn)
	s.mu.Unlock()
	select {
	case s.gone <- struct{}{}:
	default:
	}
}

func (c *conn) startDrain() {
	c.mu.Lock()
	c.startDrainLocked()
	c.mu.Unlock()
}

// Shutdown drains every connection (GOAWAY in two steps; each closes once
// its streams end) and returns when they all closed or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.startDrain()
	}
	s.mu.Unlock()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.gone:
		case <-tick.C:
		}
	}
}
