package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// relayUpgrade finishes a WebSocket upgrade: the 101 goes downstream, then
// both connections become one byte tunnel.
func (p *Proxy) relayUpgrade(s *Session, resp *upstream.Response, head *ResponseHead) error {
	hj, ok := s.w.(hijacker)
	if !ok || resp.Tunnel == nil || !s.wantsUpgrade() {
		if resp.Tunnel != nil {
			_ = resp.Tunnel.Close()
		}
		return &StatusError{Status: http.StatusBadGateway, Err: errors.New("unexpected 101 from upstream")}
	}
	upgrade := headerValues(&head.Header, "Upgrade")
	h1.RemoveHopByHop(&head.Header)
	head.Header.Add("Connection", "Upgrade")
	for _, u := range upgrade {
		head.Header.Add("Upgrade", u)
	}
	if p.hooks.ResponseFilter != nil {
		if err := p.hooks.ResponseFilter(s, head); err != nil {
			_ = resp.Tunnel.Close()
			return err
		}
	}
	s.Response = ResponseHead{Status: head.Status, Header: cloneHeader(&head.Header)}
	s.sent = true
	if err := s.w.writeHead(head); err != nil {
		_ = resp.Tunnel.Close()
		return err
	}
	down, buffered, err := hj.hijack()
	if err != nil {
		_ = resp.Tunnel.Close()
		return err
	}
	p.tunnel(s, down, buffered, resp.Tunnel, resp.TunnelBuf, p.timeouts.KeepaliveIdle)
	return nil
}

// serveConnect applies the CONNECT policy and, when allowed, tunnels to the
// target. CONNECT turns the proxy into a TCP relay, so it is refused unless
// enabled, and then only to the allowed ports.
func (p *Proxy) serveConnect(s *Session) error {
	if !p.connect.Allow {
		var h Header
		h.Add("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH")
		// A client that meant to tunnel may already be sending tunnel bytes.
		h.Add("Connection", "close")
		return s.Respond(http.StatusMethodNotAllowed, h, []byte("CONNECT is not allowed\n"))
	}
	_, portStr, err := net.SplitHostPort(s.Request.Authority)
	if err != nil {
		return &StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("CONNECT target: %w", err)}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || !slices.Contains(p.connect.Ports, port) {
		return &StatusError{Status: http.StatusForbidden, Err: fmt.Errorf("CONNECT to port %s is not allowed", portStr)}
	}
	if p.hooks.RequestFilter != nil {
		handled, err := p.hooks.RequestFilter(s)
		if err != nil {
			return err
		}
		if handled {
			return nil
		}
	}
	up, err := p.upstreams.Dial(s.Context(), s.Request.Authority)
	if err != nil {
		return err
	}
	s.Peer = &Peer{Addr: s.Request.Authority}
	s.Response = ResponseHead{Status: http.StatusOK, ContentLength: -1}
	s.sent = true
	if hj, ok := s.w.(hijacker); ok {
		// HTTP/1.1: a 2xx to CONNECT has no framing; the tunnel follows
		// the empty line.
		var h Header
		head, _ := h1.AppendResponseHead(nil, http.StatusOK, []byte("Connection Established"), &h)
		down, buffered, err := hj.hijack()
		if err != nil {
			_ = up.Close()
			return err
		}
		_ = down.SetWriteDeadline(time.Now().Add(p.timeouts.ResponseWrite))
		if _, err := down.Write(head); err != nil {
			_ = up.Close()
			_ = down.Close()
			return err
		}
		p.tunnel(s, down, buffered, up, nil, p.timeouts.KeepaliveIdle)
		return nil
	}
	// HTTP/2: the stream is the tunnel (RFC 9113 8.5).
	if err := s.w.writeHead(&s.Response); err != nil {
		_ = up.Close()
		return err
	}
	if err := s.w.flush(); err != nil {
		_ = up.Close()
		return err
	}
	down := &streamConn{r: s.Body, w: s.w}
	p.tunnel(s, down, nil, up, nil, p.timeouts.KeepaliveIdle)
	return s.w.finish(nil)
}

// streamConn is an HTTP/2 stream seen as the downstream end of a tunnel.
type streamConn struct {
	r io.Reader
	w responseWriter
}

func (c *streamConn) Read(b []byte) (int, error) { return c.r.Read(b) }
func (c *streamConn) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err == nil {
		err = c.w.flush()
	}
	return n, err
}
func (c *streamConn) Close() error { return nil }

// tunnel copies both ways until either side ends or nothing moves for idle.
// Both ends are closed when it returns.
func (p *Proxy) tunnel(s *Session, down io.ReadWriteCloser, downBuf []byte, up net.Conn, upBuf []byte, idle time.Duration) {
	// Idleness is the timer's job below; deadlines left from the exchange
	// that set up the tunnel must not cut it.
	_ = up.SetDeadline(time.Time{})
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = down.Close()
			_ = up.Close()
		})
	}
	var timer *time.Timer
	check := func() {
		since := time.Since(time.Unix(0, last.Load()))
		if since >= idle {
			closeBoth()
			return
		}
		timer.Reset(idle - since)
	}
	timer = time.AfterFunc(idle, check)
	defer timer.Stop()
	stopOnShutdown := context.AfterFunc(p.ctx, closeBoth)
	defer stopOnShutdown()

	pump := func(dst io.Writer, src io.Reader, pre []byte, count *int64) {
		if len(pre) > 0 {
			if _, err := dst.Write(pre); err != nil {
				return
			}
			*count += int64(len(pre))
		}
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		buf := *bp
		for {
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
				*count += int64(n)
			}
			if err != nil {
				return
			}
		}
	}
	var in, out int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		pump(up, down, downBuf, &in)
		// Half-close so the upstream sees the client's end of stream.
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	pump(down, up, upBuf, &out)
	closeBoth()
	<-done
	s.BytesIn += in
	s.BytesOut += out
}
