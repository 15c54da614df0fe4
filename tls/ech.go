package tls

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/cryptobyte"
)

// Encrypted ClientHello (ECH, RFC 9849, long draft-ietf-tls-esni): a client
// that knows a server's ECHConfig, usually from the DNS HTTPS record,
// encrypts its real ClientHello (the inner one, with the name it wants)
// under the config's HPKE public key and sends it inside an outer
// ClientHello that names only the config's public name. An observer of the
// wire sees the public name; the server that holds the private key decrypts
// the inner hello and serves the name in it.

// ECHConfigVersion is the version of the ECHConfig encoding this package
// writes and reads: the one final drafts and RFC 9849 use.
const ECHConfigVersion uint16 = 0xfe0d

// HPKE algorithm identifiers (RFC 9180) an ECHConfig names.
const (
	// HPKEKEMX25519 is DHKEM(X25519, HKDF-SHA256), the only KEM the seam
	// accepts: every ECH client has it.
	HPKEKEMX25519 uint16 = 0x0020
	// HPKEKDFSHA256 is HKDF-SHA256.
	HPKEKDFSHA256 uint16 = 0x0001
	// HPKEAEADAES128GCM is AES-128-GCM.
	HPKEAEADAES128GCM uint16 = 0x0001
	// HPKEAEADChaCha20Poly1305 is ChaCha20Poly1305.
	HPKEAEADChaCha20Poly1305 uint16 = 0x0003
)

// ECHCipherSuite is one HPKE symmetric suite a client may encrypt with.
type ECHCipherSuite struct {
	KDF, AEAD uint16
}

// ECHExtension is an ECHConfig extension, kept as it was read.
type ECHExtension struct {
	Type uint16
	Data []byte
}

// ECHConfig is the public half of an ECH key: what clients are told, in
// the DNS HTTPS record, so that they can encrypt to the server.
type ECHConfig struct {
	// ConfigID lets a server with several keys find the one a client used.
	ConfigID uint8
	// KEM is the HPKE KEM of PublicKey; HPKEKEMX25519 is the only one
	// accepted.
	KEM uint16
	// PublicKey is the KEM's serialised public key (32 bytes for X25519).
	PublicKey []byte
	// CipherSuites are the HPKE suites a client may choose from.
	CipherSuites []ECHCipherSuite
	// MaxNameLength is the longest name the server serves behind this
	// config, or 0 when unknown; clients pad the inner name to it, so that
	// its length does not tell which name they asked for.
	MaxNameLength uint8
	// PublicName is the name a client puts in the outer ClientHello, and
	// the name the server's certificate must cover for a client whose ECH
	// is rejected to accept the retry configs it is sent.
	PublicName string
	// Extensions are none in what Gantry writes.
	Extensions []ECHExtension
}

// ECHKey is one ECH key of a server: a marshalled ECHConfig and its private
// key.
type ECHKey struct {
	// Config is one ECHConfig (not a list) as ECHConfig.Marshal writes it,
	// byte for byte what clients were given: it is part of what the client
	// encrypted with.
	Config []byte
	// PrivateKey is the HPKE private key of Config's public key, serialised
	// as RFC 9180 says (the 32-byte scalar for X25519). It is a secret.
	PrivateKey []byte
	// SendAsRetry puts Config in the retry configs a client gets when it
	// offers ECH with a config none of the keys decrypts.
	SendAsRetry bool
}

// Marshal writes the config in the ECHConfig encoding, version
// ECHConfigVersion, checked as ParseECHConfig checks what it reads.
func (c *ECHConfig) Marshal() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("tls: ECH config: %w", err)
	}
	var b cryptobyte.Builder
	b.AddUint16(ECHConfigVersion)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(c.ConfigID)
		b.AddUint16(c.KEM)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.PublicKey) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range c.CipherSuites {
				b.AddUint16(s.KDF)
				b.AddUint16(s.AEAD)
			}
		})
		b.AddUint8(c.MaxNameLength)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(c.PublicName)) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range c.Extensions {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.Bytes()
}

// check is what Marshal and ParseECHConfig require of a config. The limits
// are the encoding's: a length that does not fit its prefix makes the
// builder fail without saying which.
func (c *ECHConfig) check() error {
	if c.KEM != HPKEKEMX25519 {
		return fmt.Errorf("KEM 0x%04x is not supported (want DHKEM(X25519, HKDF-SHA256), 0x0020)", c.KEM)
	}
	if len(c.PublicKey) != 32 {
		return fmt.Errorf("X25519 public key is %d bytes, want 32", len(c.PublicKey))
	}
	if len(c.CipherSuites) == 0 {
		return errors.New("no cipher suite")
	}
	if len(c.CipherSuites) > 0xfffc/4 {
		return errors.New("too many cipher suites")
	}
	if err := CheckECHPublicName(c.PublicName); err != nil {
		return err
	}
	size := 0
	for _, e := range c.Extensions {
		size += 4 + len(e.Data)
		if len(e.Data) > 0xffff || size > 0xffff {
			return errors.New("extensions too long")
		}
	}
	return nil
}

// CheckECHPublicName says whether name can be an ECHConfig's public name: a
// DNS host name of at least two labels, not an IP address, whose last label
// is not numeric, as RFC 9849 section 6.1.7 has clients require.
func CheckECHPublicName(name string) error {
	if name == "" {
		return errors.New("public name is empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("public name %q is longer than 253 bytes", name)
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("public name %q is an IP address; it must be a DNS name", name)
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("public name %q has a single label; clients need a name with a dot, such as ech.example.com", name)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("public name %q has an empty label or one longer than 63 bytes", name)
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			letter := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
			digit := ch >= '0' && ch <= '9'
			hyphen := ch == '-' && i > 0 && i < len(l)-1
			if !letter && !digit && !hyphen {
				return fmt.Errorf("public name %q is not a DNS host name (letters, digits and inner hyphens only)", name)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(strings.ToLower(last), "0x") {
		return fmt.Errorf("public name %q ends in a numeric label, which clients read as an IPv4 address", name)
	}
	return nil
}

// ParseECHConfig reads one ECHConfig of version ECHConfigVersion, with
// nothing after it.
func ParseECHConfig(raw []byte) (ECHConfig, error) {
	var c ECHConfig
	s := cryptobyte.String(raw)
	var version uint16
	var body cryptobyte.String
	if !s.ReadUint16(&version) || !s.ReadUint16LengthPrefixed(&body) {
		return c, errors.New("tls: ECH config: truncated")
	}
	if !s.Empty() {
		return c, errors.New("tls: ECH config: trailing bytes after the config")
	}
	if version != ECHConfigVersion {
		return c, fmt.Errorf("tls: ECH config: version 0x%04x is not supported (want 0x%04x)", version, ECHConfigVersion)
	}
	var pub, suites, name, exts cryptobyte.String
	if !body.ReadUint8(&c.ConfigID) || !body.ReadUint16(&c.KEM) ||
		!body.ReadUint16LengthPrefixed(&pub) || !body.ReadUint16LengthPrefixed(&suites) ||
		!body.ReadUint8(&c.MaxNameLength) || !body.ReadUint8LengthPrefixed(&name) ||
		!body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return c, errors.New("tls: ECH config: malformed contents")
	}
	c.PublicKey = bytes.Clone(pub)
	if len(suites)%4 != 0 {
		return c, errors.New("tls: ECH config: malformed cipher suites")
	}
	for !suites.Empty() {
		var cs ECHCipherSuite
		suites.ReadUint16(&cs.KDF)
		suites.ReadUint16(&cs.AEAD)
		c.CipherSuites = append(c.CipherSuites, cs)
	}
	c.PublicName = string(name)
	for !exts.Empty() {
		var e ECHExtension
		var data cryptobyte.String
		if !exts.ReadUint16(&e.Type) || !exts.ReadUint16LengthPrefixed(&data) {
			return c, errors.New("tls: ECH config: malformed extensions")
		}
		e.Data = bytes.Clone(data)
		c.Extensions = append(c.Extensions, e)
	}
	if err := c.check(); err != nil {
		return c, fmt.Errorf("tls: ECH config: %w", err)
	}
	return c, nil
}

// MarshalECHConfigList writes marshalled ECHConfigs as an ECHConfigList:
// what the DNS HTTPS record's ech parameter and a client's
// crypto/tls.Config.EncryptedClientHelloConfigList hold.
func MarshalECHConfigList(configs ...[]byte) ([]byte, error) {
	if len(configs) == 0 {
		return nil, errors.New("tls: ECH config list: no config")
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, c := range configs {
			b.AddBytes(c)
		}
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tls: ECH config list: %w", err)
	}
	return out, nil
}

// SplitECHConfigList returns the ECHConfigs of an ECHConfigList, each as
// its raw bytes, of every version (ParseECHConfig reads the one this
// package knows).
func SplitECHConfigList(list []byte) ([][]byte, error) {
	s := cryptobyte.String(list)
	var body cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&body) || !s.Empty() || body.Empty() {
		return nil, errors.New("tls: ECH config list: malformed")
	}
	var out [][]byte
	for !body.Empty() {
		start := body
		var version uint16
		var contents cryptobyte.String
		if !body.ReadUint16(&version) || !body.ReadUint16LengthPrefixed(&contents) {
			return nil, errors.New("tls: ECH config list: malformed config")
		}
		out = append(out, bytes.Clone(start[:len(start)-len(body)]))
	}
	return out, nil
}

// check verifies that the key is usable, without saying anything about the
// private key but whether it fits. Its errors have no "tls: " prefix, as
// keyMatches'.
func (k *ECHKey) check() (ECHConfig, error) {
	c, err := ParseECHConfig(k.Config)
	if err != nil {
		return c, errors.New(strings.TrimPrefix(err.Error(), "tls: "))
	}
	priv, err := ecdh.X25519().NewPrivateKey(k.PrivateKey)
	if err != nil {
		return c, errors.New("the private key is not an X25519 key of 32 bytes")
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), c.PublicKey) {
		return c, fmt.Errorf("the private key does not match the public key of the config (id %d, public name %q)", c.ConfigID, c.PublicName)
	}
	return c, nil
}

// validateECH checks each key and that a certificate covers each public
// name: a client whose ECH is rejected gets the outer handshake, for the
// public name, and it verifies the certificate for that name before it
// trusts the retry configs; with no such certificate it cannot recover.
func (c *ServerConfig) validateECH() error {
	for i := range c.ECHKeys {
		field := fmt.Sprintf("ech.keys[%d]", i)
		conf, err := c.ECHKeys[i].check()
		if err != nil {
			return fieldErr(field, "ECH key %d: %w", i, err)
		}
		if !c.coversName(conf.PublicName) {
			return fieldErr(field, "ECH key %d: no certificate covers its public name %q; a client whose ECH is rejected verifies the certificate for the public name before it takes the retry configs, so add a certificate for %s", i, conf.PublicName, conf.PublicName)
		}
	}
	return nil
}

// coversName reports whether the leaf of one of the certificates is valid
// for name, as SNI picks them.
func (c *ServerConfig) coversName(name string) bool {
	for i := range c.Certificates {
		leaf, err := c.Certificates[i].parsedLeaf()
		if err == nil && leaf.VerifyHostname(name) == nil {
			return true
		}
	}
	return false
}
