package tls

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP stapling: a server sends, in its handshake, a response signed by its
// certificate's issuer (or a responder the issuer delegated to) saying the
// certificate is not revoked. This file holds what both sides share: the
// check of a response against a certificate, used by the certs package
// before it staples one and by every backend's client on what an upstream
// staples.

// AlertBadCertificateStatusResponse is what a client sends a server whose
// stapled OCSP response is missing (when required) or does not check out.
const AlertBadCertificateStatusResponse Alert = 113

// oidTLSFeature is the TLS Feature extension (RFC 7633); with the
// status_request feature (5) in it, the certificate is "must-staple".
var oidTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

const tlsFeatureStatusRequest = 5

// MustStaple reports whether leaf carries the TLS Feature extension with
// status_request: clients that honour it refuse the certificate without a
// good stapled OCSP response.
func MustStaple(leaf *x509.Certificate) bool {
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidTLSFeature) {
			continue
		}
		var features []int
		if rest, err := asn1.Unmarshal(ext.Value, &features); err != nil || len(rest) > 0 {
			// Unreadable: treat as must-staple, the stricter reading.
			return true
		}
		return slices.Contains(features, tlsFeatureStatusRequest)
	}
	return false
}

// CheckOCSPResponse parses der as the OCSP response for leaf, issued by
// issuer, and accepts it only if it is signed by issuer (or by a responder
// certificate issuer signed for OCSP signing), is about leaf's serial number,
// says Good, and is current: ThisUpdate <= now < NextUpdate. A response
// without NextUpdate is refused, since nothing says when it goes stale.
func CheckOCSPResponse(der []byte, leaf, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	if len(der) == 0 {
		return nil, errors.New("empty OCSP response")
	}
	if leaf == nil || issuer == nil {
		return nil, errors.New("the certificate's issuer is unknown, so its OCSP response cannot be checked (put the issuer in the chain)")
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		return nil, fmt.Errorf("OCSP response for serial %x: %w", leaf.SerialNumber, err)
	}
	if rc := resp.Certificate; rc != nil && !rc.Equal(issuer) && !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return nil, fmt.Errorf("OCSP response for serial %x is signed by %q, which is not authorised for OCSP signing", leaf.SerialNumber, rc.Subject)
	}
	if resp.SerialNumber == nil || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		return nil, fmt.Errorf("OCSP response is not about serial %x", leaf.SerialNumber)
	}
	switch resp.Status {
	case ocsp.Good:
	case ocsp.Revoked:
		return resp, &OCSPRevokedError{Serial: fmt.Sprintf("%x", leaf.SerialNumber), At: resp.RevokedAt}
	default:
		return resp, fmt.Errorf("OCSP response for serial %x says status unknown", leaf.SerialNumber)
	}
	if resp.NextUpdate.IsZero() {
		return resp, fmt.Errorf("OCSP response for serial %x has no NextUpdate", leaf.SerialNumber)
	}
	if now.Before(resp.ThisUpdate) {
		return resp, fmt.Errorf("OCSP response for serial %x is not valid before %s", leaf.SerialNumber, resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !now.Before(resp.NextUpdate) {
		return resp, fmt.Errorf("OCSP response for serial %x expired at %s", leaf.SerialNumber, resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return resp, nil
}

// OCSPRevokedError is a Good-status check failing because the response says
// the certificate is revoked.
type OCSPRevokedError struct {
	Serial string // hexadecimal
	At     time.Time
}

func (e *OCSPRevokedError) Error() string {
	return fmt.Sprintf("OCSP response says certificate serial %s was revoked at %s", e.Serial, e.At.UTC().Format(time.RFC3339))
}

// OCSPCheck says what a client does with the OCSP response a server staples.
type OCSPCheck int

const (
	// OCSPCheckOff ignores any stapled response (the default).
	OCSPCheckOff OCSPCheck = iota
	// OCSPCheckIfStapled checks a stapled response and accepts a server that
	// staples none.
	OCSPCheckIfStapled
	// OCSPCheckRequire refuses a server that staples no good response.
	OCSPCheckRequire
)

var ocspCheckNames = []string{"off", "if-stapled", "require"}

func (m OCSPCheck) String() string {
	if m >= 0 && int(m) < len(ocspCheckNames) {
		return ocspCheckNames[m]
	}
	return fmt.Sprintf("OCSPCheck(%d)", int(m))
}

// MarshalText writes the name String returns.
func (m OCSPCheck) MarshalText() ([]byte, error) {
	if m < OCSPCheckOff || m > OCSPCheckRequire {
		return nil, fmt.Errorf("tls: invalid OCSP check %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads off, if-stapled or require.
func (m *OCSPCheck) UnmarshalText(text []byte) error {
	for i, n := range ocspCheckNames {
		if n == string(text) {
			*m = OCSPCheck(i)
			return nil
		}
	}
	return fmt.Errorf("tls: unknown OCSP check %q (want off, if-stapled or require)", text)
}

// ErrNoOCSPStaple is the reason when a required stapled response is absent.
var ErrNoOCSPStaple = errors.New("server stapled no OCSP response, and ocsp is require")

// VerifyStaple judges the OCSP response a server stapled, after Verify
// accepted its chain: certs are Verify's parsed certificates, chains its
// verified chains (nil when verification is off, in which case the issuer
// is the second certificate sent). A resumed handshake without a staple is
// accepted: the staple was checked at the full handshake that made the
// session, and not every library keeps it in the session. A refusal is a
// *VerifyError.
func (v *PeerVerifier) VerifyStaple(staple []byte, certs []*x509.Certificate, chains [][]*x509.Certificate, resumed bool) error {
	if v == nil || v.ocsp == OCSPCheckOff {
		return nil
	}
	if len(staple) == 0 {
		if v.ocsp == OCSPCheckRequire && !resumed {
			return &VerifyError{Alert: AlertBadCertificateStatusResponse, Err: ErrNoOCSPStaple}
		}
		return nil
	}
	if len(certs) == 0 {
		return &VerifyError{Alert: AlertBadCertificateStatusResponse, Err: errors.New("an OCSP response was stapled without a certificate")}
	}
	var issuer *x509.Certificate
	switch {
	case len(chains) > 0 && len(chains[0]) > 1:
		issuer = chains[0][1]
	case len(certs) > 1:
		issuer = certs[1]
	}
	_, err := CheckOCSPResponse(staple, certs[0], issuer, time.Now())
	if err != nil {
		alert := AlertBadCertificateStatusResponse
		var revoked *OCSPRevokedError
		if errors.As(err, &revoked) {
			alert = AlertCertificateRevoked
		}
		return &VerifyError{Alert: alert, Err: err}
	}
	return nil
}
