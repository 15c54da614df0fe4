package sslconn

import (
	"fmt"
	"net"
	"sync/atomic"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// Client is a compiled ClientConfig with its session cache.
type Client struct {
	closed atomic.Bool
	conns  connParams
	cache  *sessionCache // nil when the config disables it
}

var _ gtls.Client = (*Client)(nil)

// NewClient validates cfg and compiles it into a context of lib, whose
// capabilities are caps.
func NewClient(lib Library, caps gtls.Capabilities, cfg *gtls.ClientConfig) (*Client, error) {
	ctx, err := compile(lib, caps, cfg, func(p gtls.Params) (*ContextConfig, error) { return clientContext(lib, cfg, p) })
	if err != nil {
		return nil, err
	}
	c := &Client{conns: connParams{
		ctx:      ctx,
		flavor:   lib.Flavor(),
		isClient: true,
		verifier: gtls.NewServerVerifier(cfg),
		timeout:  cfg.Timeout(),
	}}
	if !cfg.DisableSessionCache {
		c.cache = newSessionCache(cfg.CacheSize())
		c.conns.cache = c.cache
	}
	return c, nil
}

// clientContext translates cfg; the result is returned even with an error,
// so that the caller can wipe what was encoded.
func clientContext(lib Library, cfg *gtls.ClientConfig, p gtls.Params) (*ContextConfig, error) {
	// The callback always runs, even with verification off, so that the
	// peer chain reaches ConnectionState through one path.
	cc := &ContextConfig{ALPN: alpnWire(cfg.ALPN), Verify: VerifyPeer, ClientSessions: !cfg.DisableSessionCache}
	if err := policy(lib, cc, p); err != nil {
		return cc, err
	}
	if cfg.Certificate != nil {
		ck, err := certKey(lib, *cfg.Certificate)
		if err != nil {
			return cc, fmt.Errorf("client certificate: %w", err)
		}
		cc.Certs = []CertKey{ck}
	}
	return cc, nil
}

// Client returns the client side of TLS over raw, for serverName.
func (c *Client) Client(raw net.Conn, serverName string) gtls.Conn {
	if c.closed.Load() {
		return failedConn(raw, c.conns.flavor, true, errClosedEndpoint)
	}
	return newConn(raw, c.conns, serverName)
}

// Close releases the context and every cached session.
func (c *Client) Close() error {
	if !c.closed.Swap(true) {
		if c.cache != nil {
			c.cache.close()
		}
		c.conns.ctx.Close()
	}
	return nil
}
