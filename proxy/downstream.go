package proxy

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/gantry-proxy/gantry/mtls"
)

// serveConn runs one accepted connection to its end.
func (p *Proxy) serveConn(l *listener, c *trackedConn) {
	defer p.untrack(c)
	defer c.Close()
	l.open.Add(1)
	defer l.open.Add(-1)
	p.metrics.ConnOpen(l.name, 1)
	defer p.metrics.ConnOpen(l.name, -1)

	var conn net.Conn = c
	if l.proxyProtocol != nil {
		// The header comes before the ClientHello, under the same budget.
		_ = c.SetDeadline(time.Now().Add(l.timeouts.TLSHandshake))
		var err error
		if conn, err = l.proxyProtocol.ReadHeader(c); err != nil {
			p.log.Debug("PROXY header refused", "listener", l.name, "peer", c.RemoteAddr().String(), "err", err)
			return
		}
		_ = c.SetDeadline(time.Time{})
	}
	if l.tlsServer == nil {
		p.serveH1(l, c, conn, nil, "", nil, nil)
		return
	}
	start := time.Now()
	// The deadline bounds the raw reads (the ClientHello Gantry reads
	// itself, and those of backends that do not honour the context) and a
	// client that never sends a ClientHello; the context bounds backends
	// that honour it.
	_ = c.SetDeadline(start.Add(l.timeouts.TLSHandshake))
	if l.inspect {
		if conn = p.inspectHello(l, c, conn); conn == nil {
			return // logged and counted
		}
	}
	tc := l.tlsServer.Server(conn)
	defer tc.Close()
	ctx, cancel := context.WithTimeout(p.ctx, l.timeouts.TLSHandshake)
	err := tc.HandshakeContext(ctx)
	cancel()
	state := tc.ConnectionState()
	p.metrics.Handshake(l.name, l.backend, state.Version, state.CipherSuite, time.Since(start), err)
	if err != nil {
		var refusal *mtls.Refusal
		if errors.As(err, &refusal) {
			// The listener's rules refused the client inside the
			// handshake (access_denied where the backend picks the alert).
			var ident *mtls.Identity
			if refusal.Leaf != nil {
				ident = mtls.NewIdentity(refusal.Leaf)
			}
			p.refuseIdentity(l.name, "listener", c.RemoteAddr(), ident, refusal.Reason)
			return
		}
		p.log.Debug("TLS handshake failed", "listener", l.name, "client", c.RemoteAddr().String(), "backend", l.backend, "err", err)
		return
	}
	peer, ident := l.newClientPeer(&state)
	if peer == nil && l.identity != nil {
		// The handshake judged every verified certificate already; what is
		// left is a client that sent none under verify-if-given, which no
		// backend's verify callback sees. Refused before a request byte is
		// read.
		p.refuseIdentity(l.name, "listener", c.RemoteAddr(), nil, l.identity.Check(nil))
		return
	}
	_ = c.SetDeadline(time.Time{})
	if state.NegotiatedProtocol == "h2" {
		// HTTP/2 drains itself on shutdown (GOAWAY), so it is never
		// closed as idle.
		c.idle.Store(false)
		hc := &h2Conn{p: p, l: l, state: &state, backend: l.backend, localPort: portOf(c.LocalAddr()), peer: peer, ident: ident, ja4: c.ja4}
		addr := DownstreamInfo{RemoteAddr: tc.RemoteAddr()}
		hc.ip = addr.clientIP()
		l.h2.ServeConn(p.ctx, tc, hc.serveStream)
		return
	}
	p.serveH1(l, c, tc, &state, l.backend, peer, ident)
}
