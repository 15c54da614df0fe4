package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// h2Client is a pooled HTTP/2 client connection, shared by concurrent
// requests while it can take more streams.
type h2Client struct {
	cc     *h2ClientConn
	idleAt atomic.Int64
}

func (h *h2Client) touch()              { h.idleAt.Store(time.Now().UnixNano()) }
func (h *h2Client) lastIdle() time.Time { return time.Unix(0, h.idleAt.Load()) }

// roundTripH2 sends req as one stream of hc. A stream the server did not
// process (above its GOAWAY, or refused) before any of the body was read
// fails with errUnsent, so that the caller can send it again on a new
// connection.
func (c *Client) roundTripH2(req *Request, hc *h2Client) (*Response, error) {
	u, err := url.ParseRequestURI(req.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: request target: %v", ErrBadRequest, err)
	}
	u.Scheme, u.Host = "https", req.Authority
	ctx, cancel := context.WithCancelCause(req.ctx(c.t.ctx))
	n := 0
	if req.Header != nil {
		n = req.Header.Len()
	}
	hreq := (&http.Request{
		Method:        req.Method,
		URL:           u,
		Host:          req.Authority,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        make(http.Header, n),
		ContentLength: req.ContentLength,
	}).WithContext(ctx)
	if req.Header != nil {
		headerToHTTP(hreq.Header, req.Header)
	}
	delete(hreq.Header, "Content-Length")
	body := &h2ReqBody{r: req.Body, interrupt: req.Interrupt}
	body.idle.L = &body.mu
	if req.ContentLength != 0 && req.Body != nil {
		hreq.Body = body
		if req.ContentLength < 0 {
			hreq.ContentLength = -1
		}
	}

	headTimer := time.AfterFunc(c.t.set.Timeouts.ResponseHeader, func() { cancel(ErrTimeout) })
	resp, err := hc.cc.RoundTrip(hreq)
	stopped := headTimer.Stop()
	if err != nil {
		cancel(nil)
		body.stop()
		hc.touch()
		if !stopped || errors.Is(context.Cause(ctx), ErrTimeout) {
			return nil, fmt.Errorf("%w (HTTP/2 response head): %v", ErrTimeout, err)
		}
		if !body.started.Load() && unprocessed(err) {
			return nil, fmt.Errorf("%w: HTTP/2: %v", errUnsent, err)
		}
		return nil, fmt.Errorf("upstream: HTTP/2: %w", err)
	}
	out := &Response{Status: resp.StatusCode, ContentLength: resp.ContentLength}
	headerFromHTTP(&out.Header, resp.Header)
	rb := &h2RespBody{r: resp.Body, idle: c.t.set.Timeouts.Read, cancel: cancel}
	out.Body = rb
	out.ex = &h2Exchange{resp: resp, rb: rb, cancel: cancel, hc: hc, body: body}
	return out, nil
}

// h2Exchange is one stream's end.
type h2Exchange struct {
	resp   *http.Response
	rb     *h2RespBody
	cancel context.CancelCauseFunc
	hc     *h2Client
	body   *h2ReqBody
}

func (e *h2Exchange) trailer() *h1.Header {
	if len(e.resp.Trailer) == 0 {
		return nil
	}
	var t h1.Header
	headerFromHTTP(&t, e.resp.Trailer)
	return &t
}

func (e *h2Exchange) done(bool) {
	e.rb.stop()
	e.cancel(nil)
	_ = e.resp.Body.Close()
	e.body.stop()
	e.hc.touch()
}

// h2ReqBody hands the downstream body to the HTTP/2 transport, which reads
// it from its own goroutine, possibly after the response ended (a server
// that answered early). stop makes sure no such read outlives the exchange:
// the downstream connection's reader is reused for the next request.
type h2ReqBody struct {
	r         io.Reader
	interrupt func()
	started   atomic.Bool

	mu      sync.Mutex
	idle    sync.Cond // signalled when reading drops to zero
	reading int
	stopped bool
}

func (b *h2ReqBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return 0, errBodyAbandoned
	}
	b.reading++
	b.mu.Unlock()
	b.started.Store(true)
	n, err := b.r.Read(p)
	b.mu.Lock()
	b.reading--
	if b.reading == 0 {
		b.idle.Broadcast()
	}
	b.mu.Unlock()
	return n, err
}

func (b *h2ReqBody) Close() error { return nil }

// stop ends every use of the downstream body, interrupting a blocked read.
func (b *h2ReqBody) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	if b.reading > 0 && b.interrupt != nil {
		b.interrupt()
	}
	for b.reading > 0 {
		b.idle.Wait()
	}
}

// h2RespBody cancels the stream when the upstream sends nothing for idle.
type h2RespBody struct {
	r      io.Reader
	idle   time.Duration
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	timer  *time.Timer
}

func (b *h2RespBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.timer == nil {
		b.timer = time.AfterFunc(b.idle, func() { b.cancel(ErrTimeout) })
	} else {
		b.timer.Reset(b.idle)
	}
	b.mu.Unlock()
	return b.r.Read(p)
}

func (b *h2RespBody) stop() {
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
}
