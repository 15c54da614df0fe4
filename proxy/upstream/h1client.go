package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// h1Conn is one HTTP/1.1 upstream connection with its codec state, pooled
// between exchanges.
type h1Conn struct {
	c         net.Conn
	raw       net.Conn // the TCP socket under c (c itself when plaintext)
	rawc      syscall.RawConn
	peek      func(fd uintptr) // hc.peekFD, bound once
	peekErr   error
	rd        *h1.Reader
	bw        *bufio.Writer
	cw        h1.ChunkedWriter
	resp      h1.Response
	hdr       h1.Header
	trl       h1.Header
	head      []byte
	target    []byte
	method    []byte
	body      h1RespBody
	out       Response
	client    *Client
	addr      string
	keep      bool
	idleSince time.Time
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Upstream heads may be larger than what clients are allowed: cookies and
// the like accumulate at origins.
var upstreamLimits = h1.Limits{MaxHeaderBytes: 128 << 10, MaxHeaderCount: 256}

func newH1Conn(c, raw net.Conn) *h1Conn {
	hc := &h1Conn{c: c, raw: raw, rd: h1.NewReader(c, upstreamLimits), bw: bufio.NewWriterSize(c, 8<<10)}
	hc.peek = hc.peekFD
	return hc
}

// quiet reports whether nothing has arrived on an idle pooled connection
// since its last exchange. Bytes (or EOF) from an idle upstream are a
// response nobody asked for or a close; reusing the connection would hand
// them to the next client's request (response-queue poisoning), so such a
// connection is dropped. Over TLS a late post-handshake message also counts
// as unsolicited: the cost is one fresh connection, never a wrong answer.
func (hc *h1Conn) quiet() bool {
	if hc.rawc == nil {
		// Made once per connection: SyscallConn allocates.
		sc, ok := hc.raw.(syscall.Conn)
		if !ok {
			return true
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		hc.rawc = rc
	}
	hc.peekErr = nil
	// Control, not Read: a non-blocking peek needs no poller bookkeeping.
	err := hc.rawc.Control(hc.peek)
	return err == nil && (hc.peekErr == syscall.EAGAIN || hc.peekErr == syscall.EWOULDBLOCK)
}

// peekFD looks for one byte without consuming it or waiting; the method value
// hc.peek is made once per connection with the connection.
func (hc *h1Conn) peekFD(fd uintptr) {
	var b [1]byte
	_, _, hc.peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

// roundTripH1 writes req and its body to hc and reads the response head.
// sent is true when the request cannot be replayed.
func (c *Client) roundTripH1(req *Request, addr string, hc *h1Conn, reused bool) (*Response, bool, error) {
	t := &c.t.set.Timeouts
	if req.Tracker != nil {
		req.Tracker.Track(hc.c)
	}
	if ctx := req.Context; ctx != nil && ctx != c.t.ctx && req.Tracker == nil {
		// Requests with their own context and no tracker (health probes)
		// end the exchange when it ends, by expiring the deadlines; a
		// tracker (HTTP/1.1 connections, HTTP/2 streams) closes it instead.
		stop := context.AfterFunc(ctx, func() { _ = hc.c.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	fail := func(err error) (*Response, bool, error) {
		_ = hc.c.Close()
		return nil, true, err
	}
	hc.hdr.Reset()
	hc.hdr.Add("Host", req.Authority)
	if req.Header != nil {
		for _, f := range req.Header.Fields {
			hc.hdr.AddBytes(f.Name, f.Value)
		}
	}
	hasBody := req.ContentLength != 0 && req.Body != nil
	chunked := hasBody && req.ContentLength < 0
	if chunked {
		hc.hdr.Del("Content-Length")
		hc.hdr.Add("Transfer-Encoding", "chunked")
	}
	hc.target = append(hc.target[:0], req.Path...)
	hc.method = append(hc.method[:0], req.Method...)
	var err error
	hc.head, err = h1.AppendRequestHead(hc.head[:0], hc.method, hc.target, &hc.hdr)
	if err != nil {
		_ = hc.c.Close()
		return nil, false, fmt.Errorf("upstream: request head: %w", err)
	}
	_ = hc.c.SetWriteDeadline(time.Now().Add(t.Write))
	if _, err := hc.bw.Write(hc.head); err != nil {
		return staleOr(hc, reused, false, err)
	}
	bodyStarted := false
	if hasBody {
		bp := copyBufPool.Get().(*[]byte)
		buf := *bp
		if chunked {
			hc.cw.Reset(hc.bw)
		}
		var sent int64
		for {
			n, rerr := req.Body.Read(buf)
			if n > 0 {
				bodyStarted = true
				_ = hc.c.SetWriteDeadline(time.Now().Add(t.Write))
				var werr error
				if chunked {
					_, werr = hc.cw.Write(buf[:n])
				} else {
					_, werr = hc.bw.Write(buf[:n])
				}
				sent += int64(n)
				if werr != nil {
					copyBufPool.Put(bp)
					return fail(fmt.Errorf("upstream: write request body: %w", werr))
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				copyBufPool.Put(bp)
				// The client's fault (or timeout): the upstream got a cut
				// request and its connection is useless.
				return fail(rerr)
			}
		}
		copyBufPool.Put(bp)
		if chunked {
			if err := hc.cw.Close(hc.requestTrailer(req)); err != nil {
				return fail(err)
			}
		} else if sent != req.ContentLength {
			return fail(fmt.Errorf("%w: request body shorter than Content-Length", ErrBadRequest))
		}
	}
	if hasBody {
		// Copying the body may have taken a while; a head alone was
		// written under the deadline set just before it.
		_ = hc.c.SetWriteDeadline(time.Now().Add(t.Write))
	}
	if err := hc.bw.Flush(); err != nil {
		return staleOr(hc, reused, bodyStarted, err)
	}

	_ = hc.c.SetReadDeadline(time.Now().Add(t.ResponseHeader))
	for {
		err = hc.rd.ReadResponse(&hc.resp, hc.method)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fail(fmt.Errorf("%w: %v", ErrTimeout, err))
			}
			return staleOr(hc, reused, bodyStarted, err)
		}
		if hc.resp.Status >= 200 || hc.resp.Status == 101 {
			break
		}
		// Interim responses (100 Continue, 103) are not forwarded.
	}
	r := &hc.resp
	out := &hc.out
	*out = Response{Status: r.Status, Header: out.Header}
	out.Header.Reset()
	for _, f := range r.Header.Fields {
		out.Header.AddBytes(f.Name, f.Value)
	}
	switch {
	case r.NoBody:
		out.ContentLength = 0
	case r.Chunked || r.BodyUntilClose:
		out.ContentLength = -1
	case r.ContentLength >= 0:
		out.ContentLength = r.ContentLength
	default:
		out.ContentLength = 0
	}
	hc.body = h1RespBody{hc: hc, idle: t.Read}
	out.Body = &hc.body
	out.ex = hc
	hc.client, hc.addr = c, addr
	hc.keep = r.KeepAlive && !r.BodyUntilClose && !r.Tunnel
	if r.Tunnel {
		out.Tunnel = hc.c
		out.TunnelBuf = append([]byte(nil), hc.rd.TakeBuffered()...)
	}
	return out, false, nil
}

func (hc *h1Conn) trailer() *h1.Header {
	if tr := hc.rd.Trailer(); tr.Len() > 0 {
		return tr
	}
	return nil
}

func (hc *h1Conn) done(ok bool) {
	if hc.out.Tunnel != nil {
		return // the tunnel owns the connection now
	}
	// Bytes already buffered past the response are an answer to no request:
	// pooling the connection would serve them to the next one.
	if ok && hc.keep && hc.rd.Body().Done() && hc.rd.Buffered() == 0 {
		// Deadlines are left as they are: every use sets its own first.
		hc.client.putIdle(hc.addr, hc)
		return
	}
	_ = hc.c.Close()
}

// requestTrailer returns the downstream request's trailer fields that may
// travel on (never ones that could change framing or routing), or nil.
func (hc *h1Conn) requestTrailer(req *Request) *h1.Header {
	if req.Trailer == nil {
		return nil
	}
	in := req.Trailer()
	if in == nil || in.Len() == 0 {
		return nil
	}
	hc.trl.Reset()
	for _, f := range in.Fields {
		switch strings.ToLower(string(f.Name)) {
		case "content-length", "transfer-encoding", "host", "trailer", "connection", "te", "upgrade":
			continue
		}
		hc.trl.AddBytes(f.Name, f.Value)
	}
	if hc.trl.Len() == 0 {
		return nil
	}
	return &hc.trl
}

// staleOr classifies a failure before any response byte: on a reused
// connection that the server closed while idle, the request never reached
// it and may be retried (if nothing of its body was consumed).
func staleOr(hc *h1Conn, reused, bodyStarted bool, err error) (*Response, bool, error) {
	_ = hc.c.Close()
	if reused && !bodyStarted && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)) {
		return nil, false, fmt.Errorf("%w: pooled connection closed by the server: %v", errUnsent, err)
	}
	return nil, true, fmt.Errorf("upstream: HTTP/1.1 exchange: %w", err)
}

// h1RespBody reads an upstream response body with an idle deadline.
type h1RespBody struct {
	hc      *h1Conn
	idle    time.Duration
	armedAt time.Time // when the read deadline was last set
}

func (b *h1RespBody) Read(p []byte) (int, error) {
	// A read that may wait on the network needs a fresh deadline: one
	// with nothing buffered, or one whose buffered bytes may not finish
	// it (a chunk's size line without its data), which the deadline's
	// age bounds. The head's deadline (response_header) must never be
	// the one a long body runs under.
	now := time.Now()
	if b.hc.rd.Buffered() == 0 || now.Sub(b.armedAt) > b.idle/4 {
		b.armedAt = now
		_ = b.hc.c.SetReadDeadline(now.Add(b.idle))
	}
	n, err := b.hc.rd.Body().Read(p)
	if err != nil && err != io.EOF && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, fmt.Errorf("%w: response body idle: %v", ErrTimeout, err)
	}
	return n, err
}

// complete reports that the body was read to its end, so the next Read
// returns io.EOF without touching the network.
func (b *h1RespBody) complete() bool { return b.hc.rd.Body().Done() }
