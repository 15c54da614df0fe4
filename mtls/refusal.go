package mtls

import "crypto/x509"

// Refusal is a Policy refusing a certificate during the TLS handshake. It
// reaches the caller of the handshake wrapped in the TLS layer's
// VerifyError; its text names the Reason only, so it is safe to log, and
// the certificate it holds is for building the Identity a log line names.
type Refusal struct {
	Reason Reason
	Leaf   *x509.Certificate // nil when the client sent no certificate
}

func (e *Refusal) Error() string { return "client identity refused: " + string(e.Reason) }

// Authorize adapts p to the TLS layer's check of verified chains
// (tls.ServerConfig.Authorize): it judges the leaf of the first chain. A nil
// Policy gives a nil func, so a listener without rules adds no work to its
// handshakes.
func (p *Policy) Authorize() func(chains [][]*x509.Certificate) error {
	if p == nil {
		return nil
	}
	return func(chains [][]*x509.Certificate) error {
		var leaf *x509.Certificate
		if len(chains) > 0 && len(chains[0]) > 0 {
			leaf = chains[0][0]
		}
		if r := p.Check(leaf); r != "" {
			return &Refusal{Reason: r, Leaf: leaf}
		}
		return nil
	}
}
