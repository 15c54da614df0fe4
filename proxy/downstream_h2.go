package proxy

import (
	stdtls "crypto/tls"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/h2"
)

// h2Conn is what the streams of one HTTP/2 downstream connection share.
type h2Conn struct {
	p         *Proxy
	l         *listener
	state     *stdtls.ConnectionState
	backend   string
	localPort string
	peer      *clientPeer
	ident     *mtls.Identity
	ja4       string
	ip        string // the client's address as intake writes it: made once, shared by the streams
}

// h2Exchange is one stream's proxying state, pooled so that a warm proxy
// allocates little per request.
type h2Exchange struct {
	s        Session
	st       *h2.Stream
	body     h2Body
	w        h2Writer
	trailerF func() *Header
	interF   func()
}

var h2ExchangePool = sync.Pool{New: func() any {
	x := &h2Exchange{}
	x.trailerF = x.trailer
	x.interF = x.interrupt
	x.body.x = x
	x.w.x = x
	return x
}}

func (x *h2Exchange) trailer() *Header { return x.st.Trailer() }
func (x *h2Exchange) interrupt()       { x.st.Interrupt() }

// serveStream proxies one HTTP/2 stream.
func (hc *h2Conn) serveStream(st *h2.Stream) {
	p, l := hc.p, hc.l
	x := h2ExchangePool.Get().(*h2Exchange)
	x.st = st
	s := &x.s
	s.Start = time.Now()
	s.ctx = st
	s.Downstream = DownstreamInfo{
		RemoteAddr:     st.RemoteAddr(),
		Listener:       l.name,
		Proto:          "HTTP/2.0",
		TLS:            hc.state,
		TLSBackend:     hc.backend,
		ClientIdentity: hc.ident,
		JA4:            hc.ja4,
		peer:           hc.peer,
		localPort:      hc.localPort,
		ip:             hc.ip,
	}
	s.paths = l.paths
	r := &s.Request
	r.Method = st.Method()
	r.Scheme = "https"
	if hc.state == nil {
		r.Scheme = "http"
	}
	r.Authority = st.Authority()
	r.Path = st.Path()
	r.Header.Reset()
	for _, f := range st.Header().Fields {
		r.Header.AddBytes(f.Name, f.Value)
	}
	declared := st.ContentLength()
	r.ContentLength = declared
	if st.HasBody() {
		if declared < 0 {
			r.ContentLength = -1
		}
		x.body = h2Body{x: x}
		s.Body = &x.body
	} else {
		r.ContentLength = 0
		s.Body = eofBody{}
	}
	s.reqTrailer = x.trailerF
	s.interruptBody = x.interF
	s.tracker = st
	x.w = h2Writer{x: x, st: st}
	s.w = &x.w
	if declared > 0 && declared <= h2PrebufferMax && (p.limits.MaxBodyBytes == 0 || declared <= p.limits.MaxBodyBytes) {
		// A small body with a length fits the client's initial window:
		// read it whole first, so that a length the DATA disagrees with
		// is refused before anything is sent upstream.
		s.intakeErr = prebuffer(s, declared)
	}
	err := p.serve(s)
	switch {
	case errors.Is(err, errStreamIdle):
		// The stream already went with RST_STREAM CANCEL.
	case err != nil && s.sent && !x.w.finished:
		// The head went out and the body cannot be completed: reset the
		// stream, so the client never takes a cut body for a whole one.
		st.Reset(h2.ErrCodeInternal)
	}
	x.st = nil
	*s = Session{upReq: s.upReq, Request: RequestHead{Header: s.Request.Header}}
	s.upReq.Header.Reset()
	s.Request.Header.Reset()
	h2ExchangePool.Put(x)
}

// eofBody is a request body that has ended.
type eofBody struct{}

func (eofBody) Read([]byte) (int, error) { return 0, io.EOF }

// h2Body reads a stream's request body. The stream holds the DATA to the
// declared content-length and resets the stream on a body idle for
// h2_stream_idle; this maps its errors to the proxy's.
type h2Body struct{ x *h2Exchange }

func (b *h2Body) Read(p []byte) (int, error) {
	n, err := b.x.st.Read(p)
	atomic.AddInt64(&b.x.s.BytesIn, int64(n))
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, h2.ErrStreamIdle):
		err = errStreamIdle
	case errors.Is(err, h2.ErrBodyLength):
		err = errH2BodyLength
	case errors.Is(err, h2.ErrInterrupted):
		err = errBodyTimeout
	}
	return n, err
}

// h2Writer is the downstream response side of an HTTP/2 stream.
type h2Writer struct {
	x        *h2Exchange
	st       *h2.Stream
	finished bool
}

func (h *h2Writer) writeHead(resp *ResponseHead) error {
	cl := int64(-1)
	if resp.ContentLength >= 0 && bodyAllowed(h.x.s.Request.Method, resp.Status) {
		cl = resp.ContentLength
	}
	if cl >= 0 {
		// The length is the stream's to state, once; a HEAD or 304
		// response keeps the field the upstream sent.
		resp.Header.Del("Content-Length")
	}
	return h.st.WriteHead(resp.Status, &resp.Header, cl)
}

func (h *h2Writer) Write(b []byte) (int, error) { return h.st.Write(b) }

func (h *h2Writer) flush() error { return h.st.Flush() }

func (h *h2Writer) finish(trailer *Header) error {
	if err := h.st.Finish(trailer); err != nil {
		return err
	}
	h.finished = true
	return nil
}
