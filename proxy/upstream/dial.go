package upstream

import (
	"context"
	"fmt"
	"net"
	"time"
)

// dial opens a new connection to addr: TCP within the connect timeout,
// then TLS within the handshake timeout. An "h2" ALPN result gives an
// HTTP/2 connection, which is pooled at once for other requests to share.
func (c *Client) dial(ctx context.Context, addr string) (*h1Conn, *h2Client, error) {
	t := &c.t.set.Timeouts
	d := net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, &ConnectError{addr, err}
	}
	if c.tls == nil {
		return newH1Conn(raw, raw), nil, nil
	}
	tc := c.tls.Client(raw, c.sniFor(addr))
	hctx, cancel := context.WithTimeout(ctx, t.TLSHandshake)
	_ = tc.SetDeadline(time.Now().Add(t.TLSHandshake))
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		_ = tc.Close()
		return nil, nil, &ConnectError{addr, fmt.Errorf("TLS (%s): %w", c.backend, err)}
	}
	_ = tc.SetDeadline(time.Time{})
	if tc.ConnectionState().NegotiatedProtocol == "h2" && c.h2 != nil {
		cc, err := newH2ClientConn(c.h2, tc)
		if err != nil {
			_ = tc.Close()
			return nil, nil, &ConnectError{addr, fmt.Errorf("HTTP/2: %w", err)}
		}
		hc := &h2Client{cc: cc}
		hc.touch()
		c.putH2(addr, hc)
		return nil, hc, nil
	}
	return newH1Conn(tc, raw), nil, nil
}

// Dial opens a plain TCP connection to addr within the connect timeout,
// for a CONNECT tunnel.
func (t *Transport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: t.set.Timeouts.Connect}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &ConnectError{addr, err}
	}
	return c, nil
}
