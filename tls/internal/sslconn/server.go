package sslconn

import (
	"fmt"
	"net"
	"sync/atomic"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// Server is a compiled ServerConfig: one engine context shared by its Conns.
type Server struct {
	closed atomic.Bool
	conns  connParams
}

var _ gtls.Server = (*Server)(nil)

// NewServer validates cfg and compiles it into a context of lib, whose
// capabilities are caps.
func NewServer(lib Library, caps gtls.Capabilities, cfg *gtls.ServerConfig) (*Server, error) {
	ctx, err := compile(lib, caps, cfg, func(p gtls.Params) (*ContextConfig, error) { return serverContext(lib, cfg, p) })
	if err != nil {
		return nil, err
	}
	return &Server{conns: connParams{
		ctx:      ctx,
		flavor:   lib.Flavor(),
		verifier: gtls.NewClientVerifier(cfg),
		timeout:  cfg.Timeout(),
	}}, nil
}

// serverContext translates cfg; the result is returned even with an error,
// so that the caller can wipe what was encoded.
func serverContext(lib Library, cfg *gtls.ServerConfig, p gtls.Params) (*ContextConfig, error) {
	cc := &ContextConfig{Server: true, ALPN: alpnWire(cfg.ALPN), SessionIDContext: sessionIDContext(cfg)}
	if err := policy(lib, cc, p); err != nil {
		return cc, err
	}
	for i, c := range cfg.Certificates {
		ck, err := certKey(lib, c)
		if err != nil {
			return cc, fmt.Errorf("certificate %d: %w", i, err)
		}
		ck.OCSP = c.OCSPStaple
		cc.Certs = append(cc.Certs, ck)
	}
	if len(cfg.Certificates) > 1 {
		cs, err := newCertSelector(cfg.Certificates)
		if err != nil {
			return cc, fmt.Errorf("%s: %w", lib.Flavor(), err)
		}
		cc.Select = cs.pick
	}
	switch cfg.ClientAuth {
	case gtls.ClientAuthRequest, gtls.ClientAuthVerifyIfGiven:
		cc.Verify = VerifyPeer
	case gtls.ClientAuthRequire, gtls.ClientAuthRequireAndVerify:
		cc.Verify = VerifyRequire
	}
	if cfg.ClientAuth != gtls.ClientAuthNone {
		for _, ca := range cfg.ClientCAs {
			cc.ClientCAs = append(cc.ClientCAs, ca.Raw)
		}
	}
	var err error
	cc.TicketKeys, err = ticketKeys(lib, cfg.DisableSessionTickets, cfg.SessionTicketKeys)
	return cc, err
}

// Server returns the server side of TLS over raw.
func (s *Server) Server(raw net.Conn) gtls.Conn {
	if s.closed.Load() {
		return failedConn(raw, s.conns.flavor, false, errClosedEndpoint)
	}
	return newConn(raw, s.conns, "")
}

// Close releases the context; Conns already made keep their reference.
func (s *Server) Close() error {
	if !s.closed.Swap(true) {
		s.conns.ctx.Close()
	}
	return nil
}
