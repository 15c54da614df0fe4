package certs

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// An ECH key file is PEM with two blocks, the layout OpenSSL's ECH work and
// the servers built on it read and write:
//
//	-----BEGIN PRIVATE KEY-----      the HPKE private key, PKCS #8 (X25519)
//	-----BEGIN ECHCONFIG-----        an ECHConfigList holding its one config
//
// The ECHCONFIG block's base64 is the very value a DNS HTTPS record's ech
// parameter carries, so the file says what was published.
const (
	echKeyBlock    = "PRIVATE KEY"
	echConfigBlock = "ECHCONFIG"
)

// ECHRetry says which configs a server sends as retry configs.
type ECHRetry int

const (
	// ECHRetryFirst sends the current (first) key's config only: a client
	// that was rejected should move to what is published now.
	ECHRetryFirst ECHRetry = iota
	// ECHRetryAll sends the configs of every key.
	ECHRetryAll
)

var echRetryNames = []string{"first", "all"}

func (r ECHRetry) String() string {
	if r >= 0 && int(r) < len(echRetryNames) {
		return echRetryNames[r]
	}
	return fmt.Sprintf("ECHRetry(%d)", int(r))
}

// MarshalText writes first or all.
func (r ECHRetry) MarshalText() ([]byte, error) {
	if r != ECHRetryFirst && r != ECHRetryAll {
		return nil, fmt.Errorf("certs: invalid ECH retry setting %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads first or all.
func (r *ECHRetry) UnmarshalText(text []byte) error {
	for i, n := range echRetryNames {
		if n == string(text) {
			*r = ECHRetry(i)
			return nil
		}
	}
	return fmt.Errorf("certs: unknown send_as_retry %q (want first or all)", text)
}

// ECHKeyOptions describe the key NewECHKey makes.
type ECHKeyOptions struct {
	// PublicName goes in the outer ClientHello; a certificate of the
	// server must cover it.
	PublicName string
	// ConfigID tells the server's keys apart; zero-valued IDs are fine,
	// but keys served side by side are best given different ones.
	ConfigID uint8
	// MaxNameLength is the longest name served behind the key, 0 when
	// unknown.
	MaxNameLength uint8
}

// NewECHKey makes an X25519 HPKE key and its ECHConfig, offering
// HKDF-SHA256 with AES-128-GCM and with ChaCha20Poly1305. The key is sent
// as retry config.
func NewECHKey(o ECHKeyOptions) (gantrytls.ECHKey, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return gantrytls.ECHKey{}, fmt.Errorf("certs: make ECH key: %w", err)
	}
	conf := gantrytls.ECHConfig{
		ConfigID:  o.ConfigID,
		KEM:       gantrytls.HPKEKEMX25519,
		PublicKey: priv.PublicKey().Bytes(),
		CipherSuites: []gantrytls.ECHCipherSuite{
			{KDF: gantrytls.HPKEKDFSHA256, AEAD: gantrytls.HPKEAEADAES128GCM},
			{KDF: gantrytls.HPKEKDFSHA256, AEAD: gantrytls.HPKEAEADChaCha20Poly1305},
		},
		MaxNameLength: o.MaxNameLength,
		PublicName:    strings.ToLower(o.PublicName),
	}
	raw, err := conf.Marshal()
	if err != nil {
		return gantrytls.ECHKey{}, fmt.Errorf("certs: %w", err)
	}
	return gantrytls.ECHKey{Config: raw, PrivateKey: priv.Bytes(), SendAsRetry: true}, nil
}

// MarshalECHKeyPEM writes k as an ECH key file (see ParseECHKeyPEM).
func MarshalECHKeyPEM(k gantrytls.ECHKey) ([]byte, error) {
	priv, err := ecdh.X25519().NewPrivateKey(k.PrivateKey)
	if err != nil {
		return nil, errors.New("certs: ECH private key is not an X25519 key of 32 bytes")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("certs: encode ECH private key: %w", err)
	}
	list, err := gantrytls.MarshalECHConfigList(k.Config)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: echKeyBlock, Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: echConfigBlock, Bytes: list})...), nil
}

// ParseECHKeyPEM reads an ECH key file: one "PRIVATE KEY" block (PKCS #8,
// X25519) and one "ECHCONFIG" block holding an ECHConfigList of exactly
// one config, version 0xfe0d, for that key. Other blocks are ignored. The
// key is not marked SendAsRetry: that is the server's choice. Errors never
// quote the key.
func ParseECHKeyPEM(data []byte) (gantrytls.ECHKey, error) {
	k, err := parseECHKeyPEM(data)
	if err != nil {
		return k, fmt.Errorf("certs: %w", err)
	}
	return k, nil
}

func parseECHKeyPEM(data []byte) (gantrytls.ECHKey, error) {
	var k gantrytls.ECHKey
	var keyDER, list []byte
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case echKeyBlock:
			if keyDER != nil {
				return k, errors.New("more than one private key block")
			}
			keyDER = block.Bytes
		case echConfigBlock:
			if list != nil {
				return k, errors.New("more than one ECHCONFIG block")
			}
			list = block.Bytes
		}
	}
	if keyDER == nil || list == nil {
		return k, errors.New("an ECH key file needs a private key block and an ECHCONFIG block (make one with `gantry certs ech`)")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return k, errors.New("the private key block is not a PKCS #8 key")
	}
	priv, ok := parsed.(*ecdh.PrivateKey)
	if !ok || priv.Curve() != ecdh.X25519() {
		return k, fmt.Errorf("the private key block holds a %T, not an X25519 key", parsed)
	}
	configs, err := gantrytls.SplitECHConfigList(list)
	if err != nil {
		return k, errors.New("the ECHCONFIG block is not an ECHConfigList")
	}
	if len(configs) != 1 {
		return k, fmt.Errorf("the ECHCONFIG block holds %d configs, want exactly the one of this key", len(configs))
	}
	k = gantrytls.ECHKey{Config: configs[0], PrivateKey: priv.Bytes()}
	conf, err := gantrytls.ParseECHConfig(k.Config)
	if err != nil {
		return gantrytls.ECHKey{}, errors.New("the ECHCONFIG block: " + strings.TrimPrefix(err.Error(), "tls: "))
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), conf.PublicKey) {
		return gantrytls.ECHKey{}, fmt.Errorf("the private key does not match the ECHCONFIG's public key (config id %d, public name %q)", conf.ConfigID, conf.PublicName)
	}
	return k, nil
}

// LoadECHKey reads an ECH key file (see ParseECHKeyPEM).
func LoadECHKey(file string) (gantrytls.ECHKey, error) {
	k, err := loadECHKey(file)
	if err != nil {
		return k, fmt.Errorf("certs: %w", err)
	}
	return k, nil
}

func loadECHKey(file string) (gantrytls.ECHKey, error) {
	data, err := readFile(file)
	if err != nil {
		return gantrytls.ECHKey{}, err
	}
	k, err := parseECHKeyPEM(data)
	if err != nil {
		return k, fmt.Errorf("ECH key file %s: %w", file, err)
	}
	return k, nil
}

// WriteECHKeyFile replaces path with k as an ECH key file, mode 0600.
func WriteECHKeyFile(path string, k gantrytls.ECHKey) error {
	data, err := MarshalECHKeyPEM(k)
	if err != nil {
		return err
	}
	return writeFile(path, data, 0o600)
}

// ECHConfigListBase64 is the ECHConfigList of keys' configs in base64, as
// a DNS HTTPS record's ech parameter and the ECHCONFIG block carry it.
func ECHConfigListBase64(keys ...gantrytls.ECHKey) (string, error) {
	configs := make([][]byte, len(keys))
	for i, k := range keys {
		configs[i] = k.Config
	}
	list, err := gantrytls.MarshalECHConfigList(configs...)
	if err != nil {
		return "", fmt.Errorf("certs: %w", err)
	}
	return base64.StdEncoding.EncodeToString(list), nil
}

// load reads the key files, guarded as private keys, into the server's
// keys: all decrypt, and the first (or, with ECHRetryAll, every one) is
// sent as retry config.
func (f ECHFiles) load(g KeyGuard, errs, warns *fieldErrors) []gantrytls.ECHKey {
	if _, err := f.SendAsRetry.MarshalText(); err != nil {
		errs.addf("ech.send_as_retry", "invalid value %d (want first or all)", int(f.SendAsRetry))
	}
	var keys []gantrytls.ECHKey
	for i, name := range f.Keys {
		field := fmt.Sprintf("ech.keys[%d]", i)
		if name == "" {
			errs.addf(field, "is empty: name a file `gantry certs ech` wrote")
			continue
		}
		if !g.guard(errs, warns, field, name) {
			continue
		}
		k, err := loadECHKey(name)
		if err != nil {
			errs.add(field, err)
			continue
		}
		k.SendAsRetry = i == 0 || f.SendAsRetry == ECHRetryAll
		keys = append(keys, k)
	}
	return keys
}
