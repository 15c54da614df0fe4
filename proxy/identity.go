package proxy

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"

	"github.com/gantry-proxy/gantry/mtls"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// compileIdentity compiles the listener's client identity rules. Rules and
// forwarding judge and repeat what a certificate says, which means nothing
// unless the certificate was verified: a listener that does not verify may
// have neither.
func (l *listener) compileIdentity(o *ListenerTLS) error {
	mode := o.Config.ClientAuth
	if o.Files.ClientAuth.Mode != gantrytls.ClientAuthNone {
		mode = o.Files.ClientAuth.Mode
	}
	l.verifies = mode == gantrytls.ClientAuthVerifyIfGiven || mode == gantrytls.ClientAuthRequireAndVerify
	id := &o.ClientIdentity
	if err := id.Validate(); err != nil {
		return fmt.Errorf("tls.client_identity.%w", err)
	}
	if !id.Empty() && !l.verifies {
		return fmt.Errorf("tls.client_identity needs client_auth.mode verify-if-given or require-and-verify (it is %s): rules on an unverified certificate mean nothing", mode)
	}
	l.identity, _ = mtls.Compile(id.Allow)
	l.forward = id.Forward
	return nil
}

// clientPeer is the verified client certificate of one downstream
// connection, shared by its requests (HTTP/2 streams run at once), with the
// identity header values built on first use.
type clientPeer struct {
	leaf  *x509.Certificate
	chain []*x509.Certificate // verified, between the leaf and the anchor
	fwd   mtls.Forward        // the listener's

	certOnce, chainOnce sync.Once
	cert, chainVal      []byte
	xfcc                [4]struct {
		once sync.Once
		v    []byte
	}
}

// newClientPeer returns the connection's verified client certificate, or
// nil when the listener does not verify or the client sent none. A
// certificate without a verified chain counts as none: it proves nothing.
func (l *listener) newClientPeer(state *stdtls.ConnectionState) (*clientPeer, *mtls.Identity) {
	if !l.verifies || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return nil, nil
	}
	v := state.VerifiedChains[0]
	cp := &clientPeer{leaf: v[0], chain: mtls.Intermediates(v), fwd: l.forward}
	return cp, mtls.NewIdentity(cp.leaf)
}

func (cp *clientPeer) leafOrNil() *x509.Certificate {
	if cp == nil {
		return nil
	}
	return cp.leaf
}

// identityRefusal is a route's identity rules refusing the client: a 403
// whose body says nothing of why.
type identityRefusal struct{ reason mtls.Reason }

func (e *identityRefusal) Error() string {
	return "proxy: client identity refused by the route's rules: " + string(e.reason)
}

// refuseIdentity logs and counts a refusal. It logs who the client claims
// to be (subject, serial), never the certificate.
func (p *Proxy) refuseIdentity(listener, level string, remote net.Addr, id *mtls.Identity, reason mtls.Reason) {
	if m, ok := p.metrics.(IdentityMetrics); ok {
		m.ClientIdentityRefused(listener, level, reason)
	}
	client := ""
	if remote != nil {
		client = remote.String()
	}
	args := []any{"listener", listener, "level", level, "client", client, "reason", string(reason)}
	if id != nil {
		args = append(args, "subject", id.Subject, "serial", id.Serial)
	}
	p.log.Warn("client identity refused", args...)
}

var (
	nameClientCert      = []byte(mtls.HeaderClientCert)
	nameClientCertChain = []byte(mtls.HeaderClientCertChain)
	nameXFCC            = []byte(mtls.HeaderXFCC)
)

// addIdentity sets the identity headers the listener and the matched route
// ask for. It runs after the owned headers were removed, so these are the
// only copies the upstream gets.
func (s *Session) addIdentity(h *Header) {
	cp := s.Downstream.peer
	if cp == nil {
		return
	}
	f := cp.fwd
	if s.route != nil {
		f = f.Or(s.route.forward)
	}
	if f.ClientCert {
		cp.certOnce.Do(func() { cp.cert = mtls.AppendClientCert(nil, cp.leaf.Raw) })
		h.AddBytes(nameClientCert, cp.cert)
	}
	if f.ClientCertChain && len(cp.chain) > 0 {
		cp.chainOnce.Do(func() { cp.chainVal = mtls.AppendClientCertChain(nil, cp.chain) })
		h.AddBytes(nameClientCertChain, cp.chainVal)
	}
	if f.XFCC {
		i := 0
		if f.XFCCCert {
			i |= 1
		}
		if f.XFCCChain {
			i |= 2
		}
		x := &cp.xfcc[i]
		x.once.Do(func() { x.v = mtls.AppendXFCC(nil, cp.leaf, cp.chain, f.XFCCCert, f.XFCCChain) })
		h.AddBytes(nameXFCC, x.v)
	}
}
