package upstream

import (
	"context"
	"io"
	"net"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// Request is what the proxy asks a server: a head, a streamed body and
// what the exchange needs to know about the downstream side. The strings
// and Header are read, never kept, after the exchange.
type Request struct {
	Method    string
	Authority string // sent as Host (HTTP/1.1) or :authority (HTTP/2)
	Path      string // origin-form target
	// Header is every field to send but Host; framing fields are the
	// caller's (Content-Length as it wants the server to see it).
	Header *h1.Header
	// ContentLength is the body length, -1 when unknown (sent chunked on
	// HTTP/1.1), 0 for no body.
	ContentLength int64
	// Body is read to its end once; nil means no body.
	Body io.Reader
	// Trailer, when set, returns the body's trailer fields once Body read
	// io.EOF.
	Trailer func() *h1.Header
	// Interrupt, when set, unblocks a Read of Body in progress; the HTTP/2
	// client calls it to end its use of the body when the exchange ends
	// first.
	Interrupt func()
	// Context ends the exchange when done. Nil is the transport's own,
	// which ends with it; an exchange under the transport's context is not
	// watched per request (see Tracker).
	Context context.Context
	// Tracker, when set, is told which connection an HTTP/1.1 exchange runs
	// on, so that its owner can abort it without a context per request.
	Tracker Tracker
	// Upgrade is a WebSocket upgrade: it needs HTTP/1.1 on the server side.
	Upgrade bool
}

// Tracker follows the connection an exchange is using.
type Tracker interface {
	// Track is called with the connection before the exchange uses it.
	Track(c io.Closer)
}

// Response is a response head from any upstream protocol with its
// streaming body. Done must be called once the caller is finished with it.
type Response struct {
	Status int
	// Header is the response's fields as received. Its storage belongs to
	// the connection and is reused by its next exchange: it is valid until
	// Done.
	Header h1.Header
	// ContentLength is the body length when known, -1 when not, 0 for no
	// body.
	ContentLength int64
	// Body streams the response body.
	Body io.Reader
	// Tunnel is the server connection after 101 Switching Protocols (the
	// caller owns it then and must close it), TunnelBuf what the server
	// sent past the head.
	Tunnel    net.Conn
	TunnelBuf []byte

	ex exchange
}

// exchange is the protocol side of one request, after the response head.
type exchange interface {
	// trailer returns the trailer fields once the body reached io.EOF.
	trailer() *h1.Header
	// done releases the connection: back to the pool when the exchange
	// ended cleanly (ok), closed otherwise.
	done(ok bool)
}

// Trailer returns the response's trailer fields once Body read io.EOF, or
// nil.
func (r *Response) Trailer() *h1.Header { return r.ex.trailer() }

// Done releases the connection: pooled when ok (the body was read to its
// end and relayed), closed otherwise.
func (r *Response) Done(ok bool) { r.ex.done(ok) }

// Complete reports that the body was read to its end, so the next Read
// returns io.EOF without touching the network. A proxy sends the last
// bytes with the end of the response instead of flushing them first.
func (r *Response) Complete() bool {
	c, ok := r.Body.(interface{ complete() bool })
	return ok && c.complete()
}
