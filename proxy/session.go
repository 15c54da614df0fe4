package proxy

import (
	"context"
	stdtls "crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/canon"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// RequestHead is a request without its body, as the hooks see it. Authority
// is the Host header (HTTP/1.1) or :authority (HTTP/2); Header never
// carries Host itself.
type RequestHead struct {
	Method    string
	Scheme    string
	Authority string
	Path      string
	Header    Header
	// ContentLength is the body length when known, -1 when not (chunked,
	// or an HTTP/2 stream without content-length), 0 for no body.
	ContentLength int64
}

// ResponseHead is a response without its body.
type ResponseHead struct {
	Status int
	Header Header
	// ContentLength as in RequestHead.
	ContentLength int64
}

// DownstreamInfo describes the client connection a request came on.
type DownstreamInfo struct {
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// Listener is the listener's name.
	Listener string
	// Proto is "HTTP/1.1" or "HTTP/2.0".
	Proto string
	// TLS is nil on a plaintext listener.
	TLS *stdtls.ConnectionState
	// TLSBackend names the TLS backend; empty on plaintext.
	TLSBackend string
	// ClientIdentity is who the client's verified certificate says it is;
	// nil when the listener does not verify client certificates or the
	// client sent none.
	ClientIdentity *mtls.Identity
	// JA4 is the FoxIO JA4 fingerprint of the client's ClientHello
	// ("t13d1516h2_8daaf6152771_e5627efa2ab1"); empty on plaintext and
	// on listeners with tls.inspect_hello false.
	JA4 string

	peer      *clientPeer // the verified certificate behind ClientIdentity
	ip        string      // RemoteAddr's host, computed once per connection
	localPort string      // the port the client connected to, for X-Forwarded-Port
}

// clientIP is the host part of RemoteAddr.
func (d *DownstreamInfo) clientIP() string {
	if d.ip == "" && d.RemoteAddr != nil {
		if ta, ok := d.RemoteAddr.(*net.TCPAddr); ok {
			d.ip = ta.IP.String()
		} else {
			d.ip = d.RemoteAddr.String()
			if h, _, err := net.SplitHostPort(d.ip); err == nil {
				d.ip = h
			}
		}
	}
	return d.ip
}

// portOf is the port of a local address, or "".
func portOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(ta.Port)
	}
	if a == nil {
		return ""
	}
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return port
}

// ALPN is the negotiated application protocol, or "".
func (d *DownstreamInfo) ALPN() string {
	if d.TLS == nil {
		return ""
	}
	return d.TLS.NegotiatedProtocol
}

// SNI is the server name the client sent, or "".
func (d *DownstreamInfo) SNI() string {
	if d.TLS == nil {
		return ""
	}
	return d.TLS.ServerName
}

// Peer is one upstream server a request can go to. Requests to equal Peers
// share pooled connections.
type Peer struct {
	// Addr is "host:port".
	Addr string
	// TLS dials with TLS; nil means plain HTTP.
	TLS *UpstreamTLS
	// Group is the name of the upstream group, for logs; may be empty.
	Group string

	client *upstream.Client // compiled TLS client and pools; nil for hook-made peers
	server *upstream.Server // load and health bookkeeping; nil for hook-made peers
}

// Session is one request going through the proxy, whatever the protocol on
// either side. Hooks read and change it; it is valid only during the
// request.
type Session struct {
	// Request is the downstream request head.
	Request RequestHead
	// Body is the downstream request body; it reads io.EOF at once when
	// there is none.
	Body io.Reader
	// Downstream describes the client connection.
	Downstream DownstreamInfo
	// Peer is the chosen upstream server, once chosen. Peers from the
	// default router are shared between requests: read them, never change
	// them (an UpstreamPeer hook returns a new Peer instead).
	Peer *Peer
	// Response is the response head sent downstream, once sent.
	Response ResponseHead
	// Start is when the request head was complete.
	Start time.Time
	// UpstreamDuration is the time from sending the request upstream to the
	// end of the response body.
	UpstreamDuration time.Duration
	// BytesIn and BytesOut count request and response body bytes. An
	// upstream HTTP/2 transport reads the request body from its own
	// goroutine: read BytesIn with sync/atomic until the request ended.
	BytesIn, BytesOut int64

	// interruptBody unblocks a Read of Body in progress (it expires the
	// downstream read deadline); the body is unusable afterwards.
	interruptBody func()

	// reqTrailer returns the request's trailer fields once Body reached
	// io.EOF; nil when the protocol has none.
	reqTrailer func() *Header

	// tracker, for HTTP/1.1 downstream sessions, is told the upstream
	// connection in use so that Close can abort it without a context per
	// request.
	tracker upstream.Tracker

	upReq   RequestHead      // the upstream request, storage reused
	upCall  upstream.Request // upReq as the upstream client takes it
	upResp  ResponseHead     // the response head relayed, while it is
	scratch []byte           // bytes of header values built for upReq

	route     *route        // the route the default router matched, if any
	paths     canon.Policy  // the listener's path policy
	fwd       forwardValues // owned headers for the upstream, from intake
	intakeErr error         // a protocol-level fault found before intake, answered by it

	ctx  context.Context
	w    responseWriter
	sent bool // a response head went downstream
	// Values lets hooks pass data between phases.
	values map[any]any
}

// Context is cancelled when the client goes away or the proxy shuts down.
func (s *Session) Context() context.Context {
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

// Host is the request's host without port, lower case.
func (s *Session) Host() string {
	return hostOnly(s.Request.Authority)
}

// Set stores a value for later hooks of the same request.
func (s *Session) Set(key, value any) {
	if s.values == nil {
		s.values = make(map[any]any)
	}
	s.values[key] = value
}

// Get returns what Set stored.
func (s *Session) Get(key any) any { return s.values[key] }

// Respond answers the request from the proxy itself, with body as the whole
// body. It fails if a response was already sent.
func (s *Session) Respond(status int, header Header, body []byte) error {
	if s.sent {
		return errResponded
	}
	h := cloneHeader(&header)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	s.Response = ResponseHead{Status: status, Header: h, ContentLength: int64(len(body))}
	s.sent = true
	if err := s.w.writeHead(&s.Response); err != nil {
		return err
	}
	if len(body) > 0 && s.Request.Method != "HEAD" {
		n, err := s.w.Write(body)
		s.BytesOut += int64(n)
		if err != nil {
			return err
		}
	}
	return s.w.finish(nil)
}

// responseWriter is the downstream side of a response: the HTTP/1.1 codec or
// an HTTP/2 stream.
type responseWriter interface {
	writeHead(*ResponseHead) error
	io.Writer
	flush() error
	// finish ends the body, sending trailer when the protocol allows.
	finish(trailer *Header) error
}

// hostOnly strips the port and brackets from an authority and lower-cases
// it, allocating only when it has upper-case letters.
func hostOnly(authority string) string {
	host := authority
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[1:end]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.ToLower(host)
}
