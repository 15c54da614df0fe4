package tls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Alert is a TLS alert description (RFC 8446, section 6).
type Alert uint8

// The alerts a verification failure maps to.
const (
	AlertBadCertificate      Alert = 42
	AlertUnsupportedCert     Alert = 43
	AlertCertificateExpired  Alert = 45
	AlertCertificateUnknown  Alert = 46
	AlertUnknownCA           Alert = 48
	AlertAccessDenied        Alert = 49
	AlertCertificateRequired Alert = 116
)

// VerifyError is why a peer's certificate was refused. Every backend returns
// the same VerifyError for the same chain, because every backend calls the
// same PeerVerifier.
type VerifyError struct {
	// Alert is what the refusing side sends to the peer.
	Alert Alert
	// Err is the underlying reason, usually from crypto/x509.
	Err error
}

func (e *VerifyError) Error() string { return "tls: peer certificate refused: " + e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// ErrNoCertificate is the reason when a required peer certificate is absent.
var ErrNoCertificate = errors.New("peer sent no certificate")

// PeerVerifier decides whether a peer's certificate chain is acceptable. It
// is compiled once per Server or Client and safe for concurrent use.
type PeerVerifier struct {
	roots      *x509.CertPool // nil means the system roots
	usage      x509.ExtKeyUsage
	require    bool    // refuse a peer with no certificate
	verify     bool    // check the chain
	verifyHost bool    // check the name (servers only)
	crls       *crlSet // nil: no revocation check
	authorize  func([][]*x509.Certificate) error
	fetched    *fetchedCRLs // nil: no CRLs from distribution points

	// ct is the Certificate Transparency policy, nil when there is none;
	// ctErr is set instead when it did not compile: every server is then
	// refused rather than the policy ignored.
	ct    *ctChecker
	ctErr error

	// ocsp is what VerifyStaple does (servers only).
	ocsp OCSPCheck
}

// NewServerVerifier returns the verifier a client uses on servers.
func NewServerVerifier(c *ClientConfig) *PeerVerifier {
	v := &PeerVerifier{
		usage:      x509.ExtKeyUsageServerAuth,
		require:    true,
		verify:     !c.DisableVerifyCert,
		verifyHost: !c.DisableVerifyCert && !c.DisableVerifyHostname,
		ocsp:       c.OCSP,
	}
	if len(c.RootCAs) > 0 {
		v.roots = x509.NewCertPool()
		for _, ca := range c.RootCAs {
			v.roots.AddCert(ca)
		}
	}
	v.ct, v.ctErr = compileCTPolicy(c.CT)
	return v
}

// NewClientVerifier returns the verifier a server uses on clients.
func NewClientVerifier(c *ServerConfig) *PeerVerifier {
	v := &PeerVerifier{
		usage:   x509.ExtKeyUsageClientAuth,
		require: c.ClientAuth.requires(),
		verify:  c.ClientAuth.verifies(),
		roots:   x509.NewCertPool(),
	}
	for _, ca := range c.ClientCAs {
		v.roots.AddCert(ca)
	}
	if v.verify {
		v.crls = newCRLSet(c.CRLs, c.CRLExpired, c.Logger)
		v.authorize = c.Authorize
		v.fetched = newFetchedCRLs(c.CRLSource, c.CRLExpired, c.Logger)
	}
	return v
}

// Verify checks rawCerts (DER, leaf first). serverName is the name a server
// certificate must carry; it is ignored when verifying clients. It returns
// the parsed peer certificates and, when the chain was verified, the
// verified chains. A refusal is always a *VerifyError.
func (v *PeerVerifier) Verify(rawCerts [][]byte, serverName string) ([]*x509.Certificate, [][]*x509.Certificate, error) {
	certs, chains, _, err := v.verifyAll(rawCerts, serverName, true)
	return certs, chains, err
}

// VerifyNoWait is Verify for a caller that must not wait on the network,
// such as a TLS library's verify callback, which runs with the
// connection's lock held. When the verdict depends on a CRL still being
// fetched from a distribution point, it accepts for now and reports
// pending: the caller must then call Verify, which waits, once the lock is
// released and before the handshake completes or anything more is sent.
func (v *PeerVerifier) VerifyNoWait(rawCerts [][]byte, serverName string) (certs []*x509.Certificate, chains [][]*x509.Certificate, pending bool, err error) {
	return v.verifyAll(rawCerts, serverName, false)
}

func (v *PeerVerifier) verifyAll(rawCerts [][]byte, serverName string, wait bool) ([]*x509.Certificate, [][]*x509.Certificate, bool, error) {
	certs, chains, err := v.verifyChain(rawCerts, serverName)
	if err != nil || chains == nil || v.fetched == nil {
		return certs, chains, false, err
	}
	kept, err := v.fetched.filter(chains, time.Now(), wait)
	if errors.Is(err, ErrCRLPending) {
		return certs, chains, true, nil
	}
	if err != nil {
		return certs, nil, false, &VerifyError{Alert: revocationAlert(err), Err: err}
	}
	return certs, kept, false, nil
}

// verifyChain is Verify but for the CRLs fetched from distribution points.
func (v *PeerVerifier) verifyChain(rawCerts [][]byte, serverName string) ([]*x509.Certificate, [][]*x509.Certificate, error) {
	if len(rawCerts) == 0 {
		if v.require {
			return nil, nil, &VerifyError{Alert: AlertCertificateRequired, Err: ErrNoCertificate}
		}
		return nil, nil, nil
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, der := range rawCerts {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, &VerifyError{Alert: AlertBadCertificate, Err: fmt.Errorf("parse certificate %d: %w", i, err)}
		}
		certs[i] = c
	}
	if !v.verify {
		return certs, nil, nil
	}
	opts := x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{v.usage},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if v.verifyHost {
		if serverName == "" {
			return certs, nil, &VerifyError{Alert: AlertBadCertificate,
				Err: errors.New("no server name to verify the certificate against (set a server name, or turn hostname verification off)")}
		}
		// x509 matches IP SANs when given an IP literal; brackets from a
		// host:port split must go first.
		opts.DNSName = strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
		if ip := net.ParseIP(opts.DNSName); ip != nil {
			opts.DNSName = ip.String()
		}
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return certs, nil, &VerifyError{Alert: alertFor(err), Err: err}
	}
	if v.crls != nil {
		if chains, err = v.crls.filter(chains, time.Now()); err != nil {
			alert := AlertCertificateRevoked
			if re, ok := err.(*RevokedError); ok && re.Expired {
				alert = AlertCertificateUnknown
			}
			return certs, nil, &VerifyError{Alert: alert, Err: err}
		}
	}
	if v.authorize != nil {
		if err := v.authorize(chains); err != nil {
			return certs, nil, &VerifyError{Alert: AlertAccessDenied, Err: err}
		}
	}
	return certs, chains, nil
}

// revocationAlert is certificate_revoked for a listed certificate and
// certificate_unknown when revocation could not be known.
func revocationAlert(err error) Alert {
	if re, ok := err.(*RevokedError); ok && !re.Expired {
		return AlertCertificateRevoked
	}
	return AlertCertificateUnknown
}

func alertFor(err error) Alert {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return AlertUnknownCA
	case errors.As(err, &hostname):
		return AlertBadCertificate
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return AlertCertificateExpired
		}
		if invalid.Reason == x509.IncompatibleUsage {
			return AlertUnsupportedCert
		}
		return AlertBadCertificate
	}
	return AlertCertificateUnknown
}
