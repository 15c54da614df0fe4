package tls

import (
	"crypto/hmac"
	"crypto/sha256"
)

// TicketKeyMaterial is a SessionTicketKey expanded into the three parts that
// OpenSSL-style ticket callbacks need. The expansion is deterministic, so
// servers sharing a SessionTicketKey share tickets.
type TicketKeyMaterial struct {
	Name    [16]byte // identifies the key inside a ticket
	AESKey  [32]byte // encrypts the ticket (AES-256-CBC)
	HMACKey [32]byte // authenticates the ticket (HMAC-SHA256)
}

// Expand derives the key material with HMAC-SHA256 under fixed labels.
func (k SessionTicketKey) Expand() TicketKeyMaterial {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, k[:])
		m.Write([]byte("gantry session ticket " + label))
		return m.Sum(nil)
	}
	var out TicketKeyMaterial
	copy(out.Name[:], derive("name"))
	copy(out.AESKey[:], derive("aes"))
	copy(out.HMACKey[:], derive("hmac"))
	return out
}
