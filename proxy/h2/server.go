package h2

import (
	"context"
	stdtls "crypto/tls"
	"log"
	"net"
	"net/http"
	"time"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// MaxConcurrentStreams bounds the open streams of one connection.
	MaxConcurrentStreams uint32
	// IdleTimeout closes a connection with no stream open this long.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client: a client that stops
	// reading loses its connection.
	WriteTimeout time.Duration
	// StreamIdle, when set, makes the reset of a stream whose request body
	// stayed idle this long carry CANCEL (see idleCancel); the handler
	// enforces the limit itself.
	StreamIdle time.Duration
	// MaxHeaderBytes bounds a request's header block.
	MaxHeaderBytes int
	// ErrorLog receives connection errors (floods included).
	ErrorLog *log.Logger
	// CountError is told the type of every protocol error.
	CountError func(errType string)
	// Workers, when set, runs every stream's handler on a warm worker.
	Workers *WarmPool
	// OnRapidReset is told the client's address when a connection is closed
	// because its client resets most of the streams it opens.
	OnRapidReset func(remote string)
}

// Server is the HTTP/2 server of one listener.
type Server struct {
	o    ServerOptions
	srv  *xServer
	base *http.Server // carries the graceful shutdown hook and the limits
}

// StateConn is a connection that knows its TLS state: the HTTP/2 server
// checks the negotiated version and cipher through it.
type StateConn interface {
	net.Conn
	ConnectionState() stdtls.ConnectionState
}

// NewServer makes a server; nothing is served until ServeConn.
func NewServer(o ServerOptions) (*Server, error) {
	s := &Server{o: o}
	// The write timeout bounds how long a peer may leave us unable to write
	// (a client that stops reading): the same budget as an HTTP/1.1 write.
	s.srv = newXServer(o.MaxConcurrentStreams, o.IdleTimeout, o.WriteTimeout, o.CountError)
	s.base = &http.Server{ // #nosec G112 -- never serves HTTP/1: it is x/net/http2's BaseConfig; request heads are bounded by the proxy's own timeouts.
		MaxHeaderBytes: o.MaxHeaderBytes,
		ErrorLog:       o.ErrorLog,
	}
	if err := configure(s.base, s.srv); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeConn serves c, a TLS connection that negotiated "h2", until the
// client, ctx or Shutdown ends it; it closes c before returning. h serves
// each stream.
func (s *Server) ServeConn(ctx context.Context, c StateConn, h http.Handler) {
	wc := newWriteConn(c, s.o.WriteTimeout, s.o.StreamIdle)
	defer wc.Close()
	guard := &resetGuard{conn: c}
	s.serveX(ctx, wc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guard.streams.Add(1)
		defer func() {
			if r.Context().Err() != nil && guard.reset() && s.o.OnRapidReset != nil {
				s.o.OnRapidReset(r.RemoteAddr)
			}
		}()
		if s.o.Workers == nil {
			h.ServeHTTP(w, r)
			return
		}
		s.o.Workers.Run(func() { h.ServeHTTP(w, r) })
	}))
}

// Shutdown sends GOAWAY on every connection, which then closes once its
// streams end; it returns when they all did or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.base.Shutdown(ctx) }
