package h2

// Every use of x/net/http2 server API that x/net deprecates for Go 1.27
// (Server, ServeConn, ConfigureServer's shutdown hook) lives in this file,
// so moving to net/http's own HTTP/2, or to a server of our own, is one
// change here; the HTTP/2 client's share is in proxy/upstream.
//
//lint:file-ignore SA1019 deliberate, and confined to this file (see above)

import (
	"context"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

type xServer = http2.Server

// newXServer is the per-listener x/net HTTP/2 server.
func newXServer(maxStreams uint32, idle, writeByte time.Duration, countError func(string)) *xServer {
	return &http2.Server{
		// The RFC's default frame size: larger frames buy nothing for a
		// proxy and cost memory per connection.
		MaxReadFrameSize:     16 << 10,
		MaxConcurrentStreams: maxStreams,
		IdleTimeout:          idle,
		WriteByteTimeout:     writeByte,
		CountError:           countError,
	}
}

// configure ties srv to base so that base.Shutdown sends GOAWAY on every
// connection srv serves, and base's MaxHeaderBytes bounds HTTP/2 header
// blocks (CONTINUATION floods included).
func configure(base *http.Server, srv *xServer) error {
	return http2.ConfigureServer(base, srv)
}

// serveX serves HTTP/2 on an established TLS connection until the client or
// a shutdown ends it.
func (s *Server) serveX(ctx context.Context, c net.Conn, h http.Handler) {
	s.srv.ServeConn(c, &http2.ServeConnOpts{
		Context:    ctx,
		BaseConfig: s.baseConfig(),
		Handler:    h,
	})
}
