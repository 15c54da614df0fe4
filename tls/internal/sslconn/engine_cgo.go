//go:build (openssl && !boringssl) || (boringssl && !openssl)

package sslconn

import (
	"errors"

	"github.com/gantry-proxy/gantry/cgo/ssl"
)

// CgoLibrary is the C library this binary links (OpenSSL 3 or BoringSSL,
// by build tag), seen through the Library interface. These adapters only
// convert between cgo/ssl's types and this package's; cgo/ssl cannot name
// this package's types, because the fence imports nothing of Gantry.
var CgoLibrary Library = cgoLibrary{}

type cgoLibrary struct{}

func (cgoLibrary) Flavor() string            { return ssl.Flavor }
func (cgoLibrary) Describe() string          { return ssl.Library() }
func (cgoLibrary) FixedTLS13Suites() bool    { return ssl.IsBoringSSL() }
func (cgoLibrary) HasGroup(name string) bool { return ssl.HasGroup(name) }

func (cgoLibrary) NewContext(cc *ContextConfig) (Context, error) {
	cfg := &ssl.ContextConfig{
		Server: cc.Server, MinVersion: cc.MinVersion, MaxVersion: cc.MaxVersion,
		TLS12Ciphers: cc.TLS12Ciphers, TLS13Ciphers: cc.TLS13Ciphers, Groups: cc.Groups,
		ALPN: cc.ALPN, SessionIDContext: cc.SessionIDContext, ClientCAs: cc.ClientCAs,
		TicketKeys: cc.TicketKeys, ClientSessions: cc.ClientSessions,
	}
	for _, ck := range cc.Certs {
		cfg.Certs = append(cfg.Certs, ssl.CertKey{Chain: ck.Chain, Key: ck.Key, SCTList: ck.SCTList, OCSP: ck.OCSP})
	}
	if cc.Select != nil {
		cfg.Select = ssl.SelectFunc(cc.Select)
	}
	switch cc.Verify {
	case VerifyPeer:
		cfg.Verify = ssl.VerifyPeer
	case VerifyRequire:
		cfg.Verify = ssl.VerifyRequire
	}
	ctx, err := ssl.NewContext(cfg)
	if err != nil {
		return nil, err
	}
	return cgoContext{ctx}, nil
}

type cgoContext struct{ *ssl.Context }

func (c cgoContext) NewEngine(server bool, sni string, sess Session, verify VerifyFunc) (Engine, error) {
	s, _ := sess.(*ssl.Session)
	e, err := c.NewConn(server, sni, s, ssl.VerifyFunc(verify))
	if errors.Is(err, ssl.ErrContextClosed) {
		return nil, errClosedEndpoint
	}
	if err != nil {
		return nil, err
	}
	return cgoEngine{e}, nil
}

type cgoEngine struct{ c *ssl.Conn }

func (e cgoEngine) Handshake(in, out []byte) Step { return step(e.c.Handshake(in, out)) }
func (e cgoEngine) Read(in, p []byte) Step        { return step(e.c.Read(in, p)) }
func (e cgoEngine) Write(p, out []byte) Step      { return step(e.c.Write(p, out)) }
func (e cgoEngine) Drain(out []byte) Step         { return step(e.c.Drain(out)) }
func (e cgoEngine) Shutdown(out []byte) Step      { return step(e.c.Shutdown(out)) }
func (e cgoEngine) PeerChain() [][]byte           { return e.c.PeerChain() }
func (e cgoEngine) Close()                        { e.c.Close() }

func (e cgoEngine) State() State {
	s := e.c.State()
	return State{Version: s.Version, Cipher: s.Cipher, Curve: s.Curve, Resumed: s.Resumed,
		ALPN: s.ALPN, ServerName: s.ServerName, OCSP: s.OCSP, SCTs: s.SCTs}
}

func status(s ssl.Status) Status {
	switch s {
	case ssl.Done:
		return Done
	case ssl.WantRead:
		return WantRead
	case ssl.EOF:
		return EOF
	case ssl.Closed:
		return Closed
	}
	return Failed
}

func step(s ssl.Step) Step {
	out := Step{Status: status(s.Status), N: s.N, Out: s.Out, More: s.More, Starved: s.Starved,
		NoCertificate: s.NoCertificate, Err: s.Err}
	if s.Session != nil {
		out.Session = s.Session // never a typed nil inside the interface
	}
	return out
}
