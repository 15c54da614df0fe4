package upstream

// Every use of x/net/http2 client API that x/net deprecates for Go 1.27
// (Transport, NewClientConn, ClientConn) lives in this file, so moving to
// net/http's own HTTP/2 client is one change here; the HTTP/2 server's
// share is in proxy/h2.
//
//lint:file-ignore SA1019 deliberate, and confined to this file (see above)

import (
	"errors"
	"net"
	"time"

	"golang.org/x/net/http2"
)

type (
	h2Transport  = http2.Transport
	h2ClientConn = http2.ClientConn
)

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

// newH2ClientConn starts an HTTP/2 client connection on an established TLS
// connection that negotiated "h2".
func newH2ClientConn(t *h2Transport, c net.Conn) (*h2ClientConn, error) {
	return t.NewClientConn(c)
}

// Errors with which a ClientConn's RoundTrip says the server cannot have
// processed the stream (RFC 9113 §8.7): the connection was unusable before
// the stream started, or the server's GOAWAY named a last stream below it.
// x/net's Transport retries exactly these on a new connection; a pooled
// ClientConn used directly returns them, as unexported values (x/net's, or
// net/http's on Go 1.27, which x/net wraps there), so their text is all
// there is to match.
var unprocessedMessages = []string{
	"http2: Transport received Server's graceful shutdown GOAWAY",
	"http2: client conn not usable",
}

// unprocessed reports whether err from RoundTrip means the server did not
// process the stream: one of the errors above, or a stream the server
// refused (REFUSED_STREAM, which RFC 9113 §8.7 also guarantees unprocessed).
func unprocessed(err error) bool {
	var se http2.StreamError
	if errors.As(err, &se) {
		return se.Code == http2.ErrCodeRefusedStream
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, m := range unprocessedMessages {
			if e.Error() == m {
				return true
			}
		}
	}
	return false
}
