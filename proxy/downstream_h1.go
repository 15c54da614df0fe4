package proxy

import (
	"bufio"
	"bytes"
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/h1"
)

// h1ServerConn is the state of one HTTP/1.1 downstream connection, reused
// for every request on it and pooled across connections so that a warm
// proxy allocates little per request.
type h1ServerConn struct {
	p     *Proxy
	l     *listener
	track *trackedConn
	c     net.Conn
	src   headDeadlineReader
	rd    *h1.Reader
	bw    *bufio.Writer
	cw    h1.ChunkedWriter
	req   h1.Request
	s     Session
	body  h1Body
	head  []byte
	num   []byte

	lastAuthority string
	upMu          sync.Mutex
	upConn        io.Closer // the upstream connection of the current exchange

	// Per response.
	chunked    bool
	closeAfter bool // Connection: close was sent, or the body is close-delimited
	hijacked   bool
	finished   bool
}

var h1ConnPool sync.Pool

// Track remembers the upstream connection the current exchange runs on,
// for the proxy's Close to abort it (upstream.Tracker).
func (sc *h1ServerConn) Track(c io.Closer) {
	sc.upMu.Lock()
	sc.upConn = c
	sc.upMu.Unlock()
	// The proxy's close hook runs once: if it ran between the dial and
	// now, it saw no upstream connection, and this one must not wait out
	// its timeouts. Checked after the store, so one of the two closes it.
	if c != nil && sc.p != nil && sc.p.ctx.Err() != nil {
		_ = c.Close()
	}
}

// headDeadlineReader moves the read deadline from the keep-alive idle limit
// to the whole-head limit when the first byte of a request head arrives, so
// a client has RequestHeader in total for a head, however it dribbles it.
//
// Most heads arrive in the read that brings their first byte, so the new
// deadline is only applied before a further read of the same head: a
// deadline costs a timer update, and this saves one per request.
type headDeadlineReader struct {
	c         net.Conn
	awaiting  bool
	limit     time.Duration
	gotByte   bool
	headStart time.Time // first byte of an unfinished head; zero otherwise
}

func (r *headDeadlineReader) Read(b []byte) (int, error) {
	if !r.headStart.IsZero() {
		_ = r.c.SetReadDeadline(r.headStart.Add(r.limit))
		r.headStart = time.Time{}
	}
	n, err := r.c.Read(b)
	if n > 0 {
		r.gotByte = true
		if r.awaiting {
			r.awaiting = false
			r.headStart = time.Now()
		}
	}
	return n, err
}

// headDone ends the head's deadline bookkeeping: later reads (the body)
// set their own deadlines.
func (r *headDeadlineReader) headDone() { r.headStart = time.Time{} }

func (p *Proxy) serveH1(l *listener, track *trackedConn, c net.Conn, state *stdtls.ConnectionState, backend string, peer *clientPeer, ident *mtls.Identity) {
	sc, _ := h1ConnPool.Get().(*h1ServerConn)
	if sc == nil {
		sc = &h1ServerConn{}
		sc.rd = h1.NewReader(nil, h1.Limits{MaxHeaderBytes: p.limits.MaxHeaderBytes, MaxHeaderCount: p.limits.MaxHeaderCount})
		sc.bw = bufio.NewWriterSize(nil, 8<<10)
	}
	if sc.p != p {
		sc.rd = h1.NewReader(nil, h1.Limits{MaxHeaderBytes: p.limits.MaxHeaderBytes, MaxHeaderCount: p.limits.MaxHeaderCount})
	}
	sc.p, sc.l, sc.track, sc.c = p, l, track, c
	sc.src = headDeadlineReader{c: c, limit: l.timeouts.RequestHeader}
	sc.rd.Reset(&sc.src)
	sc.bw.Reset(c)
	sc.s.Downstream = DownstreamInfo{RemoteAddr: c.RemoteAddr(), Listener: l.name, Proto: "HTTP/1.1", TLS: state, TLSBackend: backend, ClientIdentity: ident, JA4: track.ja4, peer: peer, localPort: portOf(c.LocalAddr())}
	sc.s.paths = l.paths
	sc.s.reqTrailer = sc.rd.Trailer
	sc.s.interruptBody = func() { _ = c.SetReadDeadline(time.Unix(1, 0)) }
	sc.s.tracker = sc
	// One hook per connection (not per request) ends it when the proxy
	// closes: the client side and whatever upstream exchange is running.
	stop := context.AfterFunc(p.ctx, func() {
		_ = c.Close()
		sc.upMu.Lock()
		up := sc.upConn
		sc.upMu.Unlock()
		if up != nil {
			_ = up.Close()
		}
	})
	sc.loop()
	stop()
	sc.Track(nil)
	sc.s = Session{upReq: sc.s.upReq}
	sc.s.upReq.Header.Reset()
	sc.s.Request.Header.Reset()
	sc.req.Header.Reset()
	sc.rd.Reset(nil)
	sc.bw.Reset(nil)
	sc.c, sc.track, sc.l = nil, nil, nil
	sc.lastAuthority = ""
	if !sc.hijacked {
		h1ConnPool.Put(sc)
	}
}

func (sc *h1ServerConn) loop() {
	p, l := sc.p, sc.l
	first := true
	for {
		// The first request is served even once a drain began: the client
		// connected before it did and would otherwise see its fresh
		// connection closed. Its response closes the connection.
		if p.shutdown.Load() && !first {
			return
		}
		sc.track.idle.Store(!first)
		now := time.Now()
		if first || sc.rd.Buffered() > 0 {
			sc.src.awaiting = false
			_ = sc.c.SetReadDeadline(now.Add(l.timeouts.RequestHeader))
		} else {
			sc.src.awaiting = true
			_ = sc.c.SetReadDeadline(now.Add(l.timeouts.KeepaliveIdle))
		}
		first = false
		sc.src.gotByte = sc.rd.Buffered() > 0
		err := sc.rd.ReadRequest(&sc.req)
		sc.src.headDone()
		sc.track.idle.Store(false)
		if err != nil {
			sc.refuse(err)
			return
		}
		if !sc.serveOne() {
			return
		}
	}
}

// refuse answers a request the codec or a timeout ended, then the caller
// closes the connection.
func (sc *h1ServerConn) refuse(err error) {
	status := 0
	if he, ok := h1.IsError(err); ok {
		status = he.Status
	} else {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && sc.src.gotByte {
			status = http.StatusRequestTimeout
		}
	}
	if status == 0 {
		return // EOF between requests, idle timeout, reset: just close
	}
	sc.p.log.Debug("HTTP/1.1 request refused", "listener", sc.l.name, "client", sc.c.RemoteAddr().String(), "status", status, "err", err)
	sc.s.Request = RequestHead{}
	sc.s.Start = time.Now()
	sc.resetResponse()
	sc.closeAfter = true
	sc.s.w = sc
	var h Header
	h.Add("Content-Type", "text/plain; charset=utf-8")
	h.Add("Connection", "close")
	_ = sc.c.SetWriteDeadline(time.Now().Add(sc.l.timeouts.ResponseWrite))
	_ = sc.s.Respond(status, h, []byte(h1.StatusText(status)+"\n"))
	sc.p.finishRequest(&sc.s, err)
}

func (sc *h1ServerConn) resetResponse() {
	sc.chunked, sc.closeAfter, sc.finished = false, false, false
	sc.s.sent = false
	sc.s.Response = ResponseHead{}
	sc.s.Peer = nil
	sc.s.route = nil
	sc.s.BytesIn, sc.s.BytesOut, sc.s.UpstreamDuration = 0, 0, 0
	sc.s.values = nil
}

// serveOne proxies the request just read; it reports whether the connection
// can carry another one.
func (sc *h1ServerConn) serveOne() bool {
	s, req, l := &sc.s, &sc.req, sc.l
	sc.resetResponse()
	s.Start = time.Now()
	s.ctx = sc.p.ctx
	s.w = sc
	r := &s.Request
	r.Method = methodString(req.Method)
	r.Scheme = "http"
	if s.Downstream.TLS != nil {
		r.Scheme = "https"
	}
	if string(req.Host) != sc.lastAuthority {
		// Clients send the same Host on every request of a connection:
		// convert it once.
		sc.lastAuthority = string(req.Host)
	}
	r.Authority = sc.lastAuthority
	r.Path = string(originForm(req.Target))
	r.Header.Reset()
	for _, f := range req.Header.Fields {
		r.Header.AddBytes(f.Name, f.Value)
	}
	r.Header.Del("Host")
	switch {
	case req.Chunked:
		r.ContentLength = -1
	case req.ContentLength > 0:
		r.ContentLength = req.ContentLength
	default:
		r.ContentLength = 0
	}
	if r.Method == http.MethodConnect {
		r.Path = ""
	}
	if r.ContentLength != 0 {
		sc.body = h1Body{sc: sc, r: sc.rd.Body(), idle: l.timeouts.RequestBody, expect: req.ExpectContinue}
		s.Body = &sc.body
	} else {
		s.Body = http.NoBody
	}
	if r.ContentLength != 0 {
		// The body is read under its own idle limit. Without a body
		// nothing reads from the client until the next head, which sets
		// its own deadline: the head's may stay.
		_ = sc.c.SetReadDeadline(time.Time{})
	}

	err := sc.p.serve(s)
	if sc.hijacked {
		return false
	}
	if err != nil {
		// Either a response started but could not be completed (closing
		// is the only way to tell the client its body is short), or the
		// proxy refused the request: its body may be unread or suspect.
		return false
	}
	if sc.closeAfter || !req.KeepAlive || sc.p.shutdown.Load() || !sc.finished {
		return false
	}
	if !sc.rd.Body().Done() {
		// The upstream answered without reading the whole body (or the
		// request was refused): skip a small rest, close on a large one.
		_ = sc.c.SetReadDeadline(time.Now().Add(l.timeouts.RequestBody))
		if sc.body.expect && !sc.body.continued {
			return false
		}
		if err := sc.rd.Discard(256 << 10); err != nil {
			return false
		}
	}
	return true
}

// originForm turns an absolute-form target ("http://host/p?q", which the
// codec accepted and whose authority it already took as Host) into the
// origin-form an upstream expects.
func originForm(target []byte) []byte {
	var rest []byte
	switch {
	case len(target) > 7 && strings.EqualFold(string(target[:7]), "http://"):
		rest = target[7:]
	case len(target) > 8 && strings.EqualFold(string(target[:8]), "https://"):
		rest = target[8:]
	default:
		return target
	}
	if i := bytes.IndexAny(rest, "/?"); i >= 0 {
		if rest[i] == '?' {
			return append([]byte("/"), rest[i:]...)
		}
		return rest[i:]
	}
	return []byte("/")
}

// methodString avoids allocating for the common methods.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return http.MethodGet
	case "HEAD":
		return http.MethodHead
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "OPTIONS":
		return http.MethodOptions
	case "PATCH":
		return http.MethodPatch
	case "CONNECT":
		return http.MethodConnect
	case "TRACE":
		return http.MethodTrace
	}
	return string(m)
}

// h1Body is the request body of an HTTP/1.1 downstream request: the codec's
// body reader with an idle deadline per read and 100-continue on first use.
type h1Body struct {
	sc        *h1ServerConn
	r         *h1.BodyReader
	idle      time.Duration
	expect    bool
	continued bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.expect && !b.continued {
		b.continued = true
		if !b.sc.s.sent {
			_ = b.sc.c.SetWriteDeadline(time.Now().Add(b.sc.l.timeouts.ResponseWrite))
			if _, err := b.sc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return 0, err
			}
			if err := b.sc.bw.Flush(); err != nil {
				return 0, err
			}
		}
	}
	_ = b.sc.c.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.r.Read(p)
	atomic.AddInt64(&b.sc.s.BytesIn, int64(n))
	if err != nil && err != io.EOF {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, errBodyTimeout
		}
		if he, ok := h1.IsError(err); ok {
			return n, &StatusError{Status: he.Status, Err: err}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// The client ended its side before the body it announced:
			// its fault, not the upstream's.
			return n, errBodyCut
		}
	}
	return n, err
}

// writeHead frames and writes the response head; it is buffered until the
// first flush.
func (sc *h1ServerConn) writeHead(resp *ResponseHead) error {
	h := &resp.Header
	method := sc.s.Request.Method
	switch {
	case resp.Status == http.StatusSwitchingProtocols:
	case !bodyAllowed(method, resp.Status):
		h.Del("Transfer-Encoding")
		if resp.Status < 200 || resp.Status == http.StatusNoContent {
			h.Del("Content-Length")
		}
	case resp.ContentLength >= 0:
		h.Del("Transfer-Encoding")
		h.Del("Content-Length")
		sc.num = strconv.AppendInt(sc.num[:0], resp.ContentLength, 10)
		h.AddBytes(nameContentLength, sc.num)
	case sc.req.Minor >= 1:
		h.Del("Content-Length")
		h.Set("Transfer-Encoding", "chunked")
		sc.chunked = true
		sc.cw.Reset(sc.bw)
	default:
		sc.closeAfter = true
	}
	if resp.Status != http.StatusSwitchingProtocols {
		if !sc.req.KeepAlive || sc.p.shutdown.Load() || headerHasToken(h, "Connection", "close") {
			sc.closeAfter = true
		}
		if sc.closeAfter {
			h.Set("Connection", "close")
		} else if sc.req.Minor == 0 {
			h.Set("Connection", "keep-alive")
		}
	}
	var err error
	sc.head, err = h1.AppendResponseHead(sc.head[:0], resp.Status, nil, h)
	if err != nil {
		return err
	}
	sc.deadlineIfSpills(len(sc.head))
	_, err = sc.bw.Write(sc.head)
	return err
}

// Write buffers b; a write that bufio passes on to the network gets a
// fresh deadline first.
func (sc *h1ServerConn) Write(b []byte) (int, error) {
	if sc.chunked {
		sc.deadlineIfSpills(len(b) + chunkOverhead)
		return sc.cw.Write(b)
	}
	sc.deadlineIfSpills(len(b))
	return sc.bw.Write(b)
}

// chunkOverhead bounds the framing a chunked write adds: size line and CRLFs.
const chunkOverhead = 32

// deadlineIfSpills sets the write deadline when writing n more bytes would
// make bufio write to the connection. Writes that stay in the buffer need
// none (the flush sets it), which saves a timer update per response.
func (sc *h1ServerConn) deadlineIfSpills(n int) {
	if n > sc.bw.Available() {
		_ = sc.c.SetWriteDeadline(time.Now().Add(sc.l.timeouts.ResponseWrite))
	}
}

func (sc *h1ServerConn) flush() error {
	_ = sc.c.SetWriteDeadline(time.Now().Add(sc.l.timeouts.ResponseWrite))
	return sc.bw.Flush()
}

func (sc *h1ServerConn) finish(trailer *Header) error {
	if sc.chunked {
		if err := sc.cw.Close(trailer); err != nil {
			return err
		}
	}
	if err := sc.flush(); err != nil {
		return err
	}
	sc.finished = true
	return nil
}

// hijack hands the connection to a tunnel, with the bytes the client sent
// beyond the request head.
func (sc *h1ServerConn) hijack() (net.Conn, []byte, error) {
	if err := sc.flush(); err != nil {
		return nil, nil, err
	}
	sc.hijacked = true
	sc.finished = true
	buffered := append([]byte(nil), sc.rd.TakeBuffered()...)
	_ = sc.c.SetDeadline(time.Time{})
	return sc.c, buffered, nil
}

var nameContentLength = []byte("Content-Length")

// hijacker is implemented by downstream writers that can become a tunnel.
type hijacker interface {
	hijack() (net.Conn, []byte, error)
}
