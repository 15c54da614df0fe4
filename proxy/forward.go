package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
	"github.com/gantry-proxy/gantry/proxy/upstream"
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

// forward is the request's life after its head was read.
func (p *Proxy) forward(s *Session) error {
	if err := p.intake(s); err != nil {
		return err
	}
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
		if ir, ok := errors.AsType[*identityRefusal](err); ok {
			p.refuseIdentity(s.Downstream.Listener, "route", s.Downstream.RemoteAddr, s.Downstream.ClientIdentity, ir.reason)
		}
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
	if err != nil && upstream.IsConnectError(err) {
		// Nothing was sent: any request may go to another server of the
		// group, once.
		if other := p.router.another(peer); other != nil {
			s.Peer = other
			resp, err = p.roundTrip(s, other, req)
		}
	}
	if err != nil {
		return err
	}
	defer func() { s.UpstreamDuration = time.Since(upStart) }()
	return p.relayResponse(s, resp)
}

// roundTrip hands req to the upstream client of peer (compiling the TLS
// settings of a peer a hook made on first use) and returns the response
// head; the client retries where that is safe.
func (p *Proxy) roundTrip(s *Session, peer *Peer, req *RequestHead) (*upstream.Response, error) {
	client := peer.client
	if client == nil {
		var err error
		if client, err = p.upstreams.ClientFor(peer.TLS); err != nil {
			return nil, fmt.Errorf("proxy: upstream TLS for %s: %w", peer.Addr, err)
		}
	}
	call := &s.upCall
	*call = upstream.Request{
		Method:        req.Method,
		Authority:     req.Authority,
		Path:          req.Path,
		Header:        &req.Header,
		ContentLength: req.ContentLength,
		Body:          s.Body,
		Trailer:       s.reqTrailer,
		Interrupt:     s.interruptBody,
		Context:       s.Context(),
		Tracker:       s.tracker,
		Upgrade:       s.wantsUpgrade(),
	}
	return client.RoundTrip(call, upstream.Target{Addr: peer.Addr, Group: peer.Group, Server: peer.server})
}

// relayResponse sends resp downstream: head, streamed body, trailer.
func (p *Proxy) relayResponse(s *Session, resp *upstream.Response) (err error) {
	ok := false
	head := &s.upResp
	*head = ResponseHead{Status: resp.Status, Header: resp.Header, ContentLength: resp.ContentLength}
	defer func() {
		// The fields' storage, grown or not, goes back to the connection
		// for its next exchange. The downstream stops tracking the
		// connection first: once pooled it serves other requests, which
		// a late reset of this one must not cut.
		resp.Header = head.Header
		if s.tracker != nil {
			s.tracker.Track(nil)
		}
		resp.Done(ok)
	}()
	if head.Status == http.StatusSwitchingProtocols {
		return p.relayUpgrade(s, resp, head)
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
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := s.w.Write(buf[:n]); werr != nil {
					return fmt.Errorf("proxy: write response body: %w", werr)
				}
				s.BytesOut += int64(n)
				// A body that just ended goes out with the finish below: on
				// HTTP/1.1 one write either way, on HTTP/2 the last DATA
				// frame then carries END_STREAM instead of an empty frame
				// and a flush of its own following it.
				if !resp.Complete() {
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
	if err := s.w.finish(resp.Trailer()); err != nil {
		return fmt.Errorf("proxy: finish response: %w", err)
	}
	ok = true
	return nil
}

// bodyAllowed reports whether a response to method with status has a body.
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
