package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
)

// Forward selects the identity headers set on the upstream request. Every
// incoming copy of them is removed at intake whatever this says; these only
// decide whether Gantry sends its own.
type Forward struct {
	// ClientCert sets RFC 9440 Client-Cert: the leaf's DER as an RFC 8941
	// byte sequence (":BASE64:").
	ClientCert bool `yaml:"client_cert"`
	// ClientCertChain sets RFC 9440 Client-Cert-Chain: the verified chain
	// after the leaf, up to but not including the trust anchor, as a list
	// of byte sequences, issuer of the leaf first. Not sent when the leaf
	// was issued by the trust anchor itself.
	ClientCertChain bool `yaml:"client_cert_chain"`
	// XFCC sets X-Forwarded-Client-Cert with Hash, Subject, URI and DNS.
	XFCC bool `yaml:"xfcc"`
	// XFCCCert adds Cert (the leaf as URL-encoded PEM) to it.
	XFCCCert bool `yaml:"xfcc_cert"`
	// XFCCChain adds Chain (leaf and the chain as above, URL-encoded PEM).
	XFCCChain bool `yaml:"xfcc_chain"`
}

// Any reports whether any header is asked for.
func (f Forward) Any() bool { return f.ClientCert || f.ClientCertChain || f.XFCC }

// Or is the headers either f or g asks for: a route adds to its listener's.
func (f Forward) Or(g Forward) Forward {
	return Forward{
		ClientCert:      f.ClientCert || g.ClientCert,
		ClientCertChain: f.ClientCertChain || g.ClientCertChain,
		XFCC:            f.XFCC || g.XFCC,
		XFCCCert:        f.XFCCCert || g.XFCCCert,
		XFCCChain:       f.XFCCChain || g.XFCCChain,
	}
}

// Validate refuses the parts of XFCC without XFCC itself.
func (f Forward) Validate() error {
	if (f.XFCCCert || f.XFCCChain) && !f.XFCC {
		field := "forward.xfcc_cert"
		if !f.XFCCCert {
			field = "forward.xfcc_chain"
		}
		return &FieldError{Field: field, Err: errors.New("needs forward.xfcc: true")}
	}
	return nil
}

// Header names.
const (
	HeaderClientCert      = "Client-Cert"
	HeaderClientCertChain = "Client-Cert-Chain"
	HeaderXFCC            = "X-Forwarded-Client-Cert"
)

// Intermediates is the part of a verified chain (leaf first, trust anchor
// last) that Client-Cert-Chain carries: neither the leaf nor the anchor.
func Intermediates(verified []*x509.Certificate) []*x509.Certificate {
	if len(verified) <= 2 {
		return nil
	}
	return verified[1 : len(verified)-1]
}

// AppendClientCert appends the Client-Cert value for a leaf's DER.
func AppendClientCert(dst, der []byte) []byte {
	dst = append(dst, ':')
	dst = base64.StdEncoding.AppendEncode(dst, der)
	return append(dst, ':')
}

// AppendClientCertChain appends the Client-Cert-Chain value for chain
// (Intermediates of the verified chain); nothing when it is empty.
func AppendClientCertChain(dst []byte, chain []*x509.Certificate) []byte {
	for i, c := range chain {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = AppendClientCert(dst, c.Raw)
	}
	return dst
}

// AppendXFCC appends one X-Forwarded-Client-Cert element describing leaf:
// Hash=<SHA-256 of the DER, hex>, then Cert and Chain when asked (URL-encoded
// PEM; Chain is the leaf followed by chain), Subject (always quoted), one
// URI= per URI SAN and one DNS= per DNS SAN. Values with a character that
// separates elements or pairs are quoted.
func AppendXFCC(dst []byte, leaf *x509.Certificate, chain []*x509.Certificate, withCert, withChain bool) []byte {
	sum := sha256.Sum256(leaf.Raw)
	dst = append(dst, "Hash="...)
	dst = hex.AppendEncode(dst, sum[:])
	if withCert {
		dst = append(dst, ";Cert=\""...)
		dst = appendPEMEscaped(dst, leaf)
		dst = append(dst, '"')
	}
	if withChain {
		dst = append(dst, ";Chain=\""...)
		dst = appendPEMEscaped(dst, leaf)
		for _, c := range chain {
			dst = appendPEMEscaped(dst, c)
		}
		dst = append(dst, '"')
	}
	dst = append(dst, ";Subject="...)
	dst = appendQuoted(dst, leaf.Subject.String())
	for _, u := range leaf.URIs {
		dst = append(dst, ";URI="...)
		dst = appendValue(dst, u.String())
	}
	for _, d := range leaf.DNSNames {
		dst = append(dst, ";DNS="...)
		dst = appendValue(dst, d)
	}
	return dst
}

// appendPEMEscaped appends c as PEM, percent-encoded: every byte but the
// URL-unreserved ones (RFC 3986) is escaped, so the value holds no
// separator, quote or line break and any URL decoder restores the PEM.
func appendPEMEscaped(dst []byte, c *x509.Certificate) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, b := range pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) {
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~' {
			dst = append(dst, b)
		} else {
			dst = append(dst, '%', hexDigits[b>>4], hexDigits[b&15])
		}
	}
	return dst
}

// appendValue appends v bare, or quoted when it holds a separator.
func appendValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ',', ';', '=', '"', '\\', ' ':
			return appendQuoted(dst, v)
		}
	}
	return append(dst, v...)
}

// appendQuoted appends v in double quotes, with '"' and '\' escaped by a
// backslash.
func appendQuoted(dst []byte, v string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, v[i])
	}
	return append(dst, '"')
}
