package sslconn

import (
	"crypto/x509"
	"errors"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// peerState is what verification learns about the peer during the
// handshake. The engine's verify callback reaches it, never the Conn, so
// an abandoned Conn can still be collected and its engine freed.
type peerState struct {
	verifier   *gtls.PeerVerifier
	serverName string
	certs      []*x509.Certificate
	chains     [][]*x509.Certificate
	err        error
	// pending is the chain the callback accepted only for now: its
	// verdict needs a CRL still being fetched, which the callback, run
	// under the engine's lock, must not wait for.
	pending [][]byte
}

// verify is the engine's VerifyFunc: the shared Go verifier decides, so
// every backend accepts and refuses the same chains with the same errors.
func (ps *peerState) verify(ders [][]byte, malformed error) uint8 {
	if malformed != nil {
		ps.err = &gtls.VerifyError{Alert: gtls.AlertBadCertificate, Err: malformed}
		return uint8(gtls.AlertBadCertificate)
	}
	certs, chains, pending, err := ps.verifier.VerifyNoWait(ders, ps.serverName)
	ps.certs, ps.chains = certs, chains
	if pending {
		ps.pending = ders
	}
	if err != nil {
		ps.err = err
		var ve *gtls.VerifyError
		if errors.As(err, &ve) {
			return uint8(ve.Alert)
		}
		return uint8(gtls.AlertCertificateUnknown)
	}
	return 0
}
