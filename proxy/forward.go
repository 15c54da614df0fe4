package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// upstreamResponse is a response head from any upstream protocol with its
// streaming body.
type upstreamResponse struct {
	head ResponseHead
	body io.Reader
	// ex ends the exchange and knows its trailer.
	ex exchange
	// tunnel is the upstream connection after a 101 Switching Protocols,
	// and tunnelBuf what the upstream sent beyond the head.
	tunnel    net.Conn
	tunnelBuf []byte
}

// exchange is the upstream side of one request, after the response head.
type exchange interface {
	// trailer returns the trailer fields once the body reached io.EOF.
	trailer() *Header
	// done releases the connection: back to the pool when the exchange
	// ended cleanly (ok), closed otherwise.
	done(ok bool)
}

// Errors that decide the status of a failed request.
var (
	errUpstreamTimeout = errors.New("proxy: upstream did not answer in time")
	errBodyTooLarge    = &StatusError{Status: http.StatusRequestEntityTooLarge, Err: errors.New("request body too large")}
	errBodyTimeout     = &StatusError{Status: http.StatusRequestTimeout, Err: errors.New("request body idle too long")}
	errBodyCut         = &StatusError{Status: http.StatusBadRequest, Err: errors.New("client ended the connection inside the request body")}
	// errStreamIdle ends an HTTP/2 stream whose request body stayed idle
	// past h2_stream_idle: the stream is reset with CANCEL, never answered.
	errStreamIdle = &StatusError{Status: http.StatusRequestTimeout, Err: errors.New("HTTP/2 request body idle too long; stream reset with CANCEL")}
)

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// serve runs one request through every phase, answers errors, and logs it.
// It returns the error that ended the request, if any.
func (p *Proxy) serve(s *Session) error {
	err := p.forward(s)
	if errors.Is(err, errResponded) {
		err = nil
	}
	if err != nil && !s.sent && !errors.Is(err, errStreamIdle) {
		status := p.errorStatus(s, err)
		body := http.StatusText(status) + "\n"
		var h Header
		h.Add("Content-Type", "text/plain; charset=utf-8")
		h.Add("Connection", "close")
		_ = s.Respond(status, h, []byte(body))
	}
	p.finishRequest(s, err)
	return err
}

func (p *Proxy) finishRequest(s *Session, err error) {
	if p.hooks.Logging != nil {
		p.hooks.Logging(s, err)
	}
	p.access.log(s, err)
	upstream := ""
	if s.Peer != nil {
		upstream = s.Peer.Group
	}
	p.metrics.Request(s.Downstream.Listener, upstream, s.Response.Status, time.Since(s.Start))
}

// errorStatus maps an error to the status sent when no response head went
// out yet.
func (p *Proxy) errorStatus(s *Session, err error) int {
	if p.hooks.ErrorResponse != nil {
		if st := p.hooks.ErrorResponse(s, err); st >= 400 && st <= 599 {
			return st
		}
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	if he, ok := h1.IsError(err); ok {
		return he.Status
	}
	switch {
	case errors.Is(err, errUpstreamTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// forward is the request's life after its head was read.
func (p *Proxy) forward(s *Session) error {
	if err := p.validate(s); err != nil {
		return err
	}
	if s.Request.Method == http.MethodConnect {
		return p.serveConnect(s)
	}
	if p.hooks.RequestFilter != nil {
		handled, err := p.hooks.RequestFilter(s)
		if err != nil {
			return err
		}
		if handled {
			if !s.sent {
				return fmt.Errorf("proxy: request filter claimed the request but sent no response")
			}
			return nil
		}
	}
	var peer *Peer
	var err error
	if p.hooks.UpstreamPeer != nil {
		peer, err = p.hooks.UpstreamPeer(s)
	} else {
		peer, err = p.router.pick(s)
	}
	if err != nil {
		return err
	}
	if peer == nil {
		return errors.New("proxy: no upstream peer chosen")
	}
	s.Peer = peer

	req := &s.upReq
	p.upstreamHead(s, req)
	if p.hooks.UpstreamRequestFilter != nil {
		if err := p.hooks.UpstreamRequestFilter(s, req); err != nil {
			return err
		}
	}

	if err := s.Context().Err(); err != nil {
		// The client is gone (an HTTP/2 stream reset): do not spend an
		// upstream connection on it.
		return err
	}
	upStart := time.Now()
	resp, err := p.roundTrip(s, peer, req)
	if err != nil && isConnectError(err) {
		// Nothing was sent: any request may go to another server of the
		// group, once.
		if grp := p.router.groupOf(peer); grp != nil && len(grp.backends) > 1 {
			if other := grp.chooseExcept(peer.backend); other != nil {
				s.Peer = other
				resp, err = p.roundTrip(s, other, req)
			}
		}
	}
	if err != nil {
		return err
	}
	defer func() { s.UpstreamDuration = time.Since(upStart) }()
	return p.relayResponse(s, resp)
}

// isConnectError reports a failure to reach a server: nothing was sent.
func isConnectError(err error) bool {
	var ce *upstreamConnectError
	return errors.As(err, &ce)
}

// validate checks what the codecs do not: a sane authority, and the limits.
func (p *Proxy) validate(s *Session) error {
	r := &s.Request
	if r.Authority == "" {
		return &StatusError{Status: http.StatusBadRequest, Err: errors.New("missing Host")}
	}
	if !validAuthority(r.Authority) {
		return &StatusError{Status: http.StatusBadRequest, Err: errors.New("malformed Host")}
	}
	if r.Header.Len() > p.limits.MaxHeaderCount {
		return &StatusError{Status: http.StatusRequestHeaderFieldsTooLarge, Err: errors.New("too many header fields")}
	}
	if r.Method != http.MethodConnect && (r.Path == "" || (r.Path[0] != '/' && r.Path != "*")) {
		return &StatusError{Status: http.StatusBadRequest, Err: errors.New("request target must be origin-form")}
	}
	if max := p.limits.MaxBodyBytes; max > 0 {
		if r.ContentLength > max {
			return errBodyTooLarge
		}
		if r.ContentLength != 0 && s.Body != nil {
			s.Body = &limitedBody{r: s.Body, left: max}
		}
	}
	return nil
}

// validAuthority accepts host[:port] with a reg-name, IPv4 or bracketed IPv6
// host: no userinfo, no whitespace, no path.
func validAuthority(a string) bool {
	if len(a) > 255+6 {
		return false
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return false
		}
		if net.ParseIP(a[1:end]) == nil {
			return false
		}
		host, port = "", a[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i:]
	}
	if port != "" {
		if len(port) == 1 {
			return false
		}
		if n, err := strconv.Atoi(port[1:]); err != nil || n < 0 || n > 65535 {
			return false
		}
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return true
}

// upstreamHead fills req from the downstream request: hop-by-hop fields
// removed, forwarding fields added. Field bytes are shared with the
// downstream request, which outlives the upstream exchange.
func (p *Proxy) upstreamHead(s *Session, req *RequestHead) {
	in := &s.Request
	req.Method, req.Scheme, req.Authority, req.Path, req.ContentLength = in.Method, in.Scheme, in.Authority, in.Path, in.ContentLength
	req.Header.Reset()
	for _, f := range in.Header.Fields {
		req.Header.AddBytes(f.Name, f.Value)
	}
	upgrade := s.wantsUpgrade()
	// "TE: trailers" is hop-by-hop but means the same on every hop; gRPC
	// servers insist on it.
	teTrailers := headerHasToken(&in.Header, "TE", "trailers")
	h1.RemoveHopByHop(&req.Header)
	if teTrailers {
		req.Header.Add("TE", "trailers")
	}
	req.Header.Del("Host")
	req.Header.Del("Content-Length")
	if upgrade {
		req.Header.Add("Connection", "Upgrade")
		req.Header.Add("Upgrade", "websocket")
	}
	switch {
	case in.ContentLength > 0:
		req.Header.Add("Content-Length", strconv.FormatInt(in.ContentLength, 10))
	case in.ContentLength == 0 && (in.Method == http.MethodPost || in.Method == http.MethodPut || in.Method == http.MethodPatch):
		// Servers may refuse a body-carrying method without a length (411).
		req.Header.Add("Content-Length", "0")
	}

	ip := s.Downstream.clientIP()
	proto := "http"
	if s.Downstream.TLS != nil {
		proto = "https"
	}
	// Values are built in the session's scratch and added without a copy:
	// the scratch lives as long as the request.
	sc := s.scratch[:0]
	start := len(sc)
	first := true
	for _, f := range in.Header.Fields {
		if bytes.EqualFold(f.Name, nameXFF) {
			if !first {
				sc = append(sc, ", "...)
			}
			sc = append(sc, f.Value...)
			first = false
		}
	}
	if !first {
		sc = append(sc, ", "...)
	}
	sc = append(sc, ip...)
	xff := sc[start:len(sc):len(sc)]
	start = len(sc)
	sc = append(sc, "for="...)
	if strings.IndexByte(ip, ':') >= 0 {
		sc = append(sc, `"[`...)
		sc = append(sc, ip...)
		sc = append(sc, `]"`...)
	} else {
		sc = append(sc, ip...)
	}
	sc = append(sc, ";proto="...)
	sc = append(sc, proto...)
	sc = append(sc, ";host="...)
	sc = appendForwardedValue(sc, in.Authority)
	fwd := sc[start:len(sc):len(sc)]
	s.scratch = sc
	req.Header.Del("X-Forwarded-For")
	req.Header.AddBytes(nameXFF, xff)
	req.Header.Set("X-Forwarded-Proto", proto)
	req.Header.Set("X-Forwarded-Host", in.Authority)
	req.Header.AddBytes(nameForwarded, fwd)
	if s.Downstream.Proto == "HTTP/2.0" {
		req.Header.AddBytes(nameVia, via2)
	} else {
		req.Header.AddBytes(nameVia, via11)
	}
}

var (
	nameXFF       = []byte("X-Forwarded-For")
	nameForwarded = []byte("Forwarded")
	nameVia       = []byte("Via")
	via11         = []byte("1.1 gantry")
	via2          = []byte("2 gantry")
)

// appendForwardedValue appends v as an RFC 7239 value: a token when it is
// one, a quoted string otherwise.
func appendForwardedValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return strconv.AppendQuote(dst, v)
		}
	}
	return append(dst, v...)
}

// wantsUpgrade reports a WebSocket upgrade request on HTTP/1.1.
func (s *Session) wantsUpgrade() bool {
	return s.Downstream.Proto == "HTTP/1.1" && s.Request.Method == http.MethodGet &&
		headerHasToken(&s.Request.Header, "Connection", "upgrade") &&
		headerHasToken(&s.Request.Header, "Upgrade", "websocket")
}

// idempotent requests may be sent again after a failure that happened
// before any of their bytes reached the server.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// roundTrip sends req to peer, retrying once on a fresh connection when a
// pooled one turned out to be dead and nothing of the request was sent.
func (p *Proxy) roundTrip(s *Session, peer *Peer, req *RequestHead) (*upstreamResponse, error) {
	client, err := p.upstreams.clientFor(peer)
	if err != nil {
		return nil, err
	}
	grp := p.router.groupOf(peer)
	if peer.backend != nil {
		peer.backend.inflight.Add(1)
		defer peer.backend.inflight.Add(-1)
	}
	for attempt := 0; ; attempt++ {
		resp, sent, err := p.attempt(s, client, peer.Addr, req, attempt > 0)
		if err == nil {
			if grp != nil {
				grp.result(peer.backend, nil)
			}
			return resp, nil
		}
		if grp != nil && (isConnectError(err) || errors.Is(err, errUpstreamTimeout)) {
			grp.result(peer.backend, err)
		}
		p.metrics.UpstreamError(peer.Group, peer.Addr, err)
		p.log.Debug("upstream attempt failed", "addr", peer.Addr, "attempt", attempt, "err", err)
		if attempt > 0 || sent || !idempotent(req.Method) || !errors.Is(err, errStaleConn) {
			return nil, err
		}
	}
}

// errStaleConn marks a pooled connection that failed before the request
// reached the server: the server had closed it while idle.
var errStaleConn = errors.New("proxy: pooled upstream connection was closed by the server")

// attempt runs one exchange. sent reports whether the request cannot be
// sent again: part of its body was consumed, or it may have reached the
// server on a connection not known to be stale.
func (p *Proxy) attempt(s *Session, client *upstreamClient, addr string, req *RequestHead, fresh bool) (*upstreamResponse, bool, error) {
	upgrade := s.wantsUpgrade()
	var h1c *h1Conn
	var h2c *h2Conn
	if !fresh {
		h1c, h2c = client.pooled(addr)
	}
	reused := h1c != nil || h2c != nil
	if upgrade && h2c != nil {
		h2c = nil
	}
	if h1c == nil && h2c == nil {
		var err error
		h1c, h2c, err = client.dial(s.Context(), addr)
		if err != nil {
			return nil, false, err
		}
		if upgrade && h2c != nil {
			return nil, false, &StatusError{Status: http.StatusBadGateway, Err: errors.New("upstream speaks HTTP/2 only; WebSocket needs HTTP/1.1")}
		}
	}
	if h2c != nil {
		resp, err := p.roundTripH2(s, h2c, req)
		return resp, err != nil && !errors.Is(err, errStaleConn), err
	}
	return p.roundTripH1(s, client, addr, h1c, req, reused)
}

// relayResponse sends resp downstream: head, streamed body, trailer.
func (p *Proxy) relayResponse(s *Session, resp *upstreamResponse) (err error) {
	ok := false
	defer func() { resp.ex.done(ok) }()
	head := &resp.head
	if head.Status == http.StatusSwitchingProtocols {
		return p.relayUpgrade(s, resp)
	}
	h1.RemoveHopByHop(&head.Header)
	if bodyAllowed(s.Request.Method, head.Status) {
		head.Header.Del("Content-Length")
	}
	if s.Downstream.Proto == "HTTP/2.0" {
		head.Header.AddBytes(nameVia, via2)
	} else {
		head.Header.AddBytes(nameVia, via11)
	}
	if p.hooks.ResponseFilter != nil {
		if err := p.hooks.ResponseFilter(s, head); err != nil {
			return err
		}
	}
	s.sent = true
	err = s.w.writeHead(head)
	s.Response = *head
	if err != nil {
		return fmt.Errorf("proxy: write response head: %w", err)
	}
	if bodyAllowed(s.Request.Method, head.Status) {
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		buf := *bp
		for {
			n, rerr := resp.body.Read(buf)
			if n > 0 {
				if _, werr := s.w.Write(buf[:n]); werr != nil {
					return fmt.Errorf("proxy: write response body: %w", werr)
				}
				s.BytesOut += int64(n)
				// A body that just ended goes out with the finish below: on
				// HTTP/1.1 one write either way, on HTTP/2 the last DATA
				// frame then carries END_STREAM instead of an empty frame
				// and a flush of its own following it.
				if c, ok := resp.body.(completer); !ok || !c.complete() {
					if ferr := s.w.flush(); ferr != nil {
						return fmt.Errorf("proxy: write response body: %w", ferr)
					}
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("proxy: read upstream response body: %w", rerr)
			}
		}
	}
	if err := s.w.finish(resp.ex.trailer()); err != nil {
		return fmt.Errorf("proxy: finish response: %w", err)
	}
	ok = true
	return nil
}

// completer is an upstream body that can tell it reached its end before
// the read that returns io.EOF.
type completer interface{ complete() bool }

// bodyAllowed reports whether a response to method with status has a body.
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// limitedBody fails a request body that grows past MaxBodyBytes.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(b []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body exactly at the limit from a larger one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	return n, err
}

// countingBody counts request body bytes for the access log.
type countingBody struct {
	r io.Reader
	s *Session
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	atomic.AddInt64(&c.s.BytesIn, int64(n))
	return n, err
}
