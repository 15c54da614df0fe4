package proxy

// Every use of x/net/http2 API that x/net deprecates for Go 1.27 (Server,
// ServeConn, ConfigureServer's shutdown hook, Transport, NewClientConn,
// ClientConn) lives in this file, so moving to net/http's own HTTP/2 is one
// change. The rest of the package names only the aliases below.
//
//lint:file-ignore SA1019 deliberate, and confined to this file (see above)

import (
	"context"
	"net"
	"net/http"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

var errTooManyFiles = syscall.EMFILE

type (
	h2Server     = http2.Server
	h2Transport  = http2.Transport
	h2ClientConn = http2.ClientConn
)

// newH2Server is the per-listener HTTP/2 server.
func newH2Server(maxStreams uint32, idle, writeByte time.Duration, countError func(string)) *h2Server {
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

// newH2Transport frames upstream HTTP/2 connections; the pool is ours, the
// transport only speaks on connections handed to it.
func newH2Transport(writeByte time.Duration, maxHeaderBytes int) *h2Transport {
	return &http2.Transport{
		DisableCompression: true,
		ReadIdleTimeout:    30 * time.Second,
		PingTimeout:        15 * time.Second,
		WriteByteTimeout:   writeByte,
		MaxHeaderListSize:  uint32(maxHeaderBytes),
	}
}

// configureH2 ties h2 to base so that base.Shutdown sends GOAWAY on every
// connection h2 serves, and base's MaxHeaderBytes bounds HTTP/2 header
// blocks (CONTINUATION floods included).
func configureH2(base *http.Server, h2 *h2Server) error {
	return http2.ConfigureServer(base, h2)
}

// serveH2 serves HTTP/2 on an established TLS connection until the client or
// a shutdown ends it.
func serveH2(ctx context.Context, l *listener, c net.Conn, h http.Handler) {
	l.h2.ServeConn(c, &http2.ServeConnOpts{
		Context:    ctx,
		BaseConfig: h2BaseConfig(l),
		Handler:    h,
	})
}

// newH2ClientConn starts an HTTP/2 client connection on an established TLS
// connection that negotiated "h2".
func newH2ClientConn(t *h2Transport, c net.Conn) (*h2ClientConn, error) {
	return t.NewClientConn(c)
}
