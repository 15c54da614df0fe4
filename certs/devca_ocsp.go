package certs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ServerOptions describe a server certificate with the OCSP details a test
// of stapling needs.
type ServerOptions struct {
	// Names are DNS names or IP addresses; the first is the common name.
	Names []string
	// OCSPServer is the responder URL put in Authority Information Access.
	OCSPServer string
	// MustStaple adds the TLS Feature extension with status_request
	// (RFC 7633).
	MustStaple bool
}

// oidTLSFeature is the TLS Feature extension; 5 is status_request.
var oidTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

// IssueServerWith issues a server certificate as IssueServer does, with
// opts' OCSP details.
func (ca *DevCA) IssueServerWith(opts ServerOptions) (*Issued, error) {
	if len(opts.Names) == 0 {
		return nil, errors.New("certs: a server certificate needs at least one name")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: opts.Names[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range opts.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if opts.OCSPServer != "" {
		tmpl.OCSPServer = []string{opts.OCSPServer}
	}
	if opts.MustStaple {
		value, err := asn1.Marshal([]int{5})
		if err != nil {
			return nil, fmt.Errorf("certs: encode TLS Feature: %w", err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidTLSFeature, Value: value})
	}
	return ca.issue(tmpl)
}

// OCSPResponse is the CA's signed OCSP response about serial, one of
// ocsp.Good, ocsp.Revoked or ocsp.Unknown, valid from thisUpdate to
// nextUpdate. A revoked certificate is said to be revoked at thisUpdate.
func (ca *DevCA) OCSPResponse(serial *big.Int, status int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	tmpl := ocsp.Response{
		Status:       status,
		SerialNumber: serial,
		ThisUpdate:   thisUpdate,
		NextUpdate:   nextUpdate,
	}
	if status == ocsp.Revoked {
		tmpl.RevokedAt = thisUpdate
		tmpl.RevocationReason = ocsp.KeyCompromise
	}
	der, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: sign OCSP response: %w", err)
	}
	return der, nil
}

// OCSPRequestSerial reads the serial number an OCSP request asks about, for
// a test responder.
func OCSPRequestSerial(req []byte) (*big.Int, error) {
	r, err := ocsp.ParseRequest(req)
	if err != nil {
		return nil, fmt.Errorf("certs: parse OCSP request: %w", err)
	}
	return r.SerialNumber, nil
}
