package tls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	ct "github.com/google/certificate-transparency-go"
)

// CTPolicy is a client's Certificate Transparency requirement (RFC 6962):
// a server certificate is accepted only with MinSCTs valid signed
// certificate timestamps, each from a different one of Logs. SCTs are taken
// from the certificate itself (the embedded SCT list extension), from the
// TLS extension signed_certificate_timestamp and from a stapled OCSP
// response. It is checked on full handshakes; a resumed session was
// established by a full handshake that passed it.
type CTPolicy struct {
	// MinSCTs is how many distinct logs must have a valid SCT for the
	// certificate; zero means the number of Logs, at most 2.
	MinSCTs int `yaml:"min_scts"`
	// Logs are the logs whose SCTs count. At least one is required.
	Logs []CTLog `yaml:"logs"`
}

// CTLog is one Certificate Transparency log a CTPolicy trusts.
type CTLog struct {
	// Name says which log it is in errors and logs.
	Name string `yaml:"name"`
	// Key is the log's public key: a base64 DER SubjectPublicKeyInfo (as
	// log lists publish it) or a PEM PUBLIC KEY block. The config reader
	// puts the content of key_file here.
	Key string `yaml:"key"`
	// KeyFile names a file holding the key (PEM or DER) instead; it is
	// read by the config reader, not by this package.
	KeyFile string `yaml:"key_file"`
}

// minSCTs is MinSCTs with its default applied.
func (p *CTPolicy) minSCTs() int {
	if p.MinSCTs > 0 {
		return p.MinSCTs
	}
	return min(len(p.Logs), 2)
}

// ctLog is a CTLog with its key parsed.
type ctLog struct {
	name string
	id   [sha256.Size]byte // the log ID: SHA-256 of the DER key
	sv   *ct.SignatureVerifier
}

// ctChecker is a compiled CTPolicy.
type ctChecker struct {
	min  int
	logs map[[sha256.Size]byte]*ctLog
}

// compileCTPolicy parses the keys. Errors are FieldErrors relative to the
// client config ("ct.logs[1].key").
func compileCTPolicy(p *CTPolicy) (*ctChecker, error) {
	if p == nil {
		return nil, nil
	}
	if len(p.Logs) == 0 {
		return nil, fieldErr("ct.logs", "certificate transparency needs at least one log")
	}
	if p.MinSCTs < 0 {
		return nil, fieldErr("ct.min_scts", "negative number of SCTs")
	}
	if p.MinSCTs > len(p.Logs) {
		return nil, fieldErr("ct.min_scts", "%d SCTs from distinct logs are required but only %d logs are configured", p.MinSCTs, len(p.Logs))
	}
	c := &ctChecker{min: p.minSCTs(), logs: make(map[[sha256.Size]byte]*ctLog, len(p.Logs))}
	names := map[string]bool{}
	for i, l := range p.Logs {
		field := fmt.Sprintf("ct.logs[%d]", i)
		if l.Name == "" {
			return nil, fieldErr(field+".name", "log %d has no name", i)
		}
		if names[l.Name] {
			return nil, fieldErr(field+".name", "log name %q is used twice", l.Name)
		}
		names[l.Name] = true
		keyField := field + ".key"
		if l.Key == "" {
			if l.KeyFile != "" {
				keyField = field + ".key_file"
			}
			return nil, fieldErr(keyField, "log %q has no key (set key or key_file)", l.Name)
		}
		if l.KeyFile != "" {
			keyField = field + ".key_file"
		}
		der, err := parseCTLogKey(l.Key)
		if err != nil {
			return nil, fieldErr(keyField, "log %q: %w", l.Name, err)
		}
		key, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, fieldErr(keyField, "log %q: key is not a DER SubjectPublicKeyInfo: %w", l.Name, err)
		}
		if err := ctKeyAllowed(key); err != nil {
			return nil, fieldErr(keyField, "log %q: %w", l.Name, err)
		}
		sv, err := ct.NewSignatureVerifier(key)
		if err != nil {
			return nil, fieldErr(keyField, "log %q: %w", l.Name, err)
		}
		id := sha256.Sum256(der)
		if prev, ok := c.logs[id]; ok {
			return nil, fieldErr(keyField, "log %q has the same key as log %q", l.Name, prev.name)
		}
		c.logs[id] = &ctLog{name: l.Name, id: id, sv: sv}
	}
	return c, nil
}

// parseCTLogKey reads a PEM block or base64 DER.
func parseCTLogKey(s string) ([]byte, error) {
	if strings.Contains(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("key has a PEM header but no PEM block")
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("key is a PEM %q block (want PUBLIC KEY)", block.Type)
		}
		return block.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, errors.New("key is neither PEM nor base64 (want a base64 DER SubjectPublicKeyInfo)")
	}
	return der, nil
}

// ctKeyAllowed applies RFC 6962's key types: ECDSA P-256 or RSA.
func ctKeyAllowed(key crypto.PublicKey) error {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return errors.New("ECDSA log key is not on P-256 (RFC 6962 allows P-256 only)")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA log key has %d bits (at least 2048 required)", k.N.BitLen())
		}
	default:
		return fmt.Errorf("log key of type %T is not allowed (want ECDSA P-256 or RSA)", key)
	}
	return nil
}
