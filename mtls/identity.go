package mtls

import (
	"crypto/x509"
	"encoding/hex"
)

// Identity is who a verified client certificate says the client is: what
// hooks and the access log see. It holds names and digests, never the
// certificate itself.
type Identity struct {
	// Subject and Issuer are distinguished names in RFC 2253 form
	// ("CN=web,OU=prod,O=Example").
	Subject string
	Issuer  string
	// Serial is the serial number in lower-case hex.
	Serial string
	// SPKISHA256 is the SHA-256 digest of the SubjectPublicKeyInfo in
	// lower-case hex, the form spki_sha256 pins take.
	SPKISHA256 string
	// DNS, URI and Email are the subject alternative names.
	DNS   []string
	URI   []string
	Email []string
}

// NewIdentity describes a verified leaf certificate.
func NewIdentity(leaf *x509.Certificate) *Identity {
	h := SPKIHash(leaf)
	id := &Identity{
		Subject:    leaf.Subject.String(),
		Issuer:     leaf.Issuer.String(),
		SPKISHA256: hex.EncodeToString(h[:]),
		DNS:        leaf.DNSNames,
		Email:      leaf.EmailAddresses,
	}
	if leaf.SerialNumber != nil {
		id.Serial = leaf.SerialNumber.Text(16)
	}
	if len(leaf.URIs) > 0 {
		id.URI = make([]string, len(leaf.URIs))
		for i, u := range leaf.URIs {
			id.URI[i] = u.String()
		}
	}
	return id
}
