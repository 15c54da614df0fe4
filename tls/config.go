package tls

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake when a config leaves
// HandshakeTimeout zero: no handshake may wait forever.
const DefaultHandshakeTimeout = 10 * time.Second

// ClientAuthMode says whether a server asks for a client certificate and
// what it does with one.
type ClientAuthMode int

const (
	// ClientAuthNone never asks for a client certificate.
	ClientAuthNone ClientAuthMode = iota
	// ClientAuthRequest asks, accepts none, and does not verify one given.
	ClientAuthRequest
	// ClientAuthRequire asks and refuses a client without a certificate, but
	// does not verify it.
	ClientAuthRequire
	// ClientAuthVerifyIfGiven asks, accepts none, and verifies one given.
	ClientAuthVerifyIfGiven
	// ClientAuthRequireAndVerify asks, refuses none, and verifies.
	ClientAuthRequireAndVerify
)

var clientAuthNames = []string{"none", "request", "require", "verify-if-given", "require-and-verify"}

func (m ClientAuthMode) String() string {
	if m >= 0 && int(m) < len(clientAuthNames) {
		return clientAuthNames[m]
	}
	return fmt.Sprintf("ClientAuthMode(%d)", int(m))
}

// ParseClientAuthMode reads the names String returns.
func ParseClientAuthMode(s string) (ClientAuthMode, error) {
	for i, n := range clientAuthNames {
		if n == s {
			return ClientAuthMode(i), nil
		}
	}
	return 0, fmt.Errorf("tls: unknown client auth mode %q (want none, request, require, verify-if-given or require-and-verify)", s)
}

// MarshalText writes the name String returns. A mode outside the named ones
// is an error rather than a name no reader accepts.
func (m ClientAuthMode) MarshalText() ([]byte, error) {
	if !m.valid() {
		return nil, fmt.Errorf("tls: invalid client auth mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads the names ParseClientAuthMode accepts, so that a config
// file can say `mode: require-and-verify`.
func (m *ClientAuthMode) UnmarshalText(text []byte) error {
	v, err := ParseClientAuthMode(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

func (m ClientAuthMode) valid() bool { return m >= ClientAuthNone && m <= ClientAuthRequireAndVerify }

// verifies reports whether the mode verifies a certificate the client gives.
func (m ClientAuthMode) verifies() bool {
	return m == ClientAuthVerifyIfGiven || m == ClientAuthRequireAndVerify
}

// requires reports whether the mode refuses a client without a certificate.
func (m ClientAuthMode) requires() bool {
	return m == ClientAuthRequire || m == ClientAuthRequireAndVerify
}

// Certificate is a certificate chain with its private key.
type Certificate struct {
	// Chain holds DER certificates, leaf first, then intermediates.
	Chain [][]byte
	// Key is the leaf's private key: *ecdsa.PrivateKey, *rsa.PrivateKey or
	// ed25519.PrivateKey.
	Key crypto.Signer
	// Leaf is Chain[0] parsed; NewCertificate fills it.
	Leaf *x509.Certificate
	// SCTs are signed certificate timestamps (RFC 6962) for the leaf, each
	// one serialized SCT, served in the TLS extension
	// signed_certificate_timestamp to clients that ask for them.
	SCTs [][]byte
	// OCSPStaple is a DER OCSP response for Leaf that a server sends to
	// clients asking for certificate status; nil staples nothing. Whoever
	// sets it has checked it (see CheckOCSPResponse): backends send it as
	// it is.
	OCSPStaple []byte
}

// NewCertificate checks that key matches the leaf of chain and returns the
// pair with the leaf parsed.
func NewCertificate(chain [][]byte, key crypto.Signer) (Certificate, error) {
	if len(chain) == 0 {
		return Certificate{}, errors.New("tls: certificate chain is empty")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return Certificate{}, fmt.Errorf("tls: parse leaf certificate: %w", err)
	}
	for i, der := range chain[1:] {
		if _, err := x509.ParseCertificate(der); err != nil {
			return Certificate{}, fmt.Errorf("tls: parse chain certificate %d: %w", i+1, err)
		}
	}
	if err := keyMatches(leaf, key); err != nil {
		return Certificate{}, fmt.Errorf("tls: %w", err)
	}
	return Certificate{Chain: chain, Key: key, Leaf: leaf}, nil
}

// ParsedLeaf returns Leaf, or Chain[0] parsed when Leaf is nil, as it is in
// a Certificate built by hand rather than by NewCertificate. It does not
// store what it parsed: a Certificate may be shared between goroutines.
func (c *Certificate) ParsedLeaf() (*x509.Certificate, error) {
	leaf, err := c.parsedLeaf()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return leaf, nil
}

// parsedLeaf is ParsedLeaf with errors that Validate places in a FieldError.
func (c *Certificate) parsedLeaf() (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Chain) == 0 {
		return nil, errors.New("certificate chain is empty")
	}
	leaf, err := x509.ParseCertificate(c.Chain[0])
	if err != nil {
		return nil, fmt.Errorf("parse leaf certificate: %w", err)
	}
	return leaf, nil
}

// keyMatches checks that key signs for leaf. Its errors have no "tls: "
// prefix: callers add it, or place the error in a FieldError.
func keyMatches(leaf *x509.Certificate, key crypto.Signer) error {
	if key == nil {
		return fmt.Errorf("certificate %q has no private key", leaf.Subject)
	}
	switch key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		return fmt.Errorf("private key of type %T is not supported (want ECDSA, RSA or Ed25519)", key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(leaf.PublicKey) {
		return fmt.Errorf("private key does not match the public key of certificate %q", leaf.Subject)
	}
	return nil
}

// ParseCertificatePEM reads a PEM chain (leaf first) and a PEM private key
// (PKCS #8, PKCS #1 or SEC 1).
func ParseCertificatePEM(certPEM, keyPEM []byte) (Certificate, error) {
	var chain [][]byte
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if err := cutShort(rest); err != nil {
				return Certificate{}, err
			}
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	if len(chain) == 0 {
		return Certificate{}, errors.New("tls: no CERTIFICATE block in certificate PEM")
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return Certificate{}, err
	}
	return NewCertificate(chain, key)
}

// cutShort refuses what pem.Decode left when it begins a block it could not
// read: a file caught half-written, or damaged. Without it a bundle cut in
// its second certificate would load as the first alone, and silently
// trust (or chain) less than it says.
func cutShort(rest []byte) error {
	if bytes.Contains(rest, []byte("-----")) {
		return errors.New("tls: a PEM block is cut short or malformed (is the file half-written?)")
	}
	return nil
}

// ParsePrivateKeyPEM reads the first private key block of keyPEM.
func ParsePrivateKeyPEM(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("tls: no PRIVATE KEY block in key PEM")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tls: parse %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("tls: private key of type %T cannot sign", key)
		}
		return signer, nil
	}
}

// ParseCertificatesPEM reads every CERTIFICATE block of pemBytes, for CA
// files.
func ParseCertificatesPEM(pemBytes []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if err := cutShort(rest); err != nil {
				return nil, err
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: parse CA certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("tls: no CERTIFICATE block found")
	}
	return out, nil
}

// SessionTicketKey encrypts and authenticates session tickets. Backends
// derive their own key material from it, so the same keys can be shared
// across a fleet of servers on the same backend.
type SessionTicketKey [32]byte

// ServerConfig is the server side of TLS, identical for every backend.
type ServerConfig struct {
	// Certificates to serve. The first whose leaf matches the client's SNI
	// is chosen; the first overall when none matches or no SNI was sent.
	Certificates []Certificate `yaml:"-"`
	// Policy is PolicyModern or PolicyIntermediate (the default when empty).
	Policy string `yaml:"policy"`
	// CipherSuites narrows the policy's suites (IANA or OpenSSL names).
	CipherSuites []string `yaml:"cipher_suites"`
	// Groups narrows the key-exchange groups (see ParseGroup).
	Groups []string `yaml:"groups"`
	// ALPN lists application protocols in the server's preference order. A
	// client offering none of them is refused with no_application_protocol.
	// A client offering no ALPN at all is accepted.
	ALPN []string `yaml:"alpn"`

	// ClientAuth says whether and how clients present certificates.
	ClientAuth ClientAuthMode `yaml:"-"`
	// ClientCAs are the roots client certificates must chain to; their
	// subjects are sent in the CertificateRequest.
	ClientCAs []*x509.Certificate `yaml:"-"`
	// CRLs are checked, on every handshake, full or resumed, against each
	// certificate of a verified client chain but its root: a CRL applies to
	// the certificates of the issuer whose name it carries and whose
	// signature it bears. They need a client-auth mode that verifies.
	CRLs []*x509.RevocationList `yaml:"-"`
	// CRLExpired says what a CRL past its NextUpdate does: CRLExpiredHard
	// (the default) refuses the clients of its issuer, CRLExpiredSoft logs
	// and checks against it anyway.
	CRLExpired CRLExpiredPolicy `yaml:"-"`
	// Authorize, when set, is asked about every client whose chain
	// verified, on full and resumed handshakes, with the verified chains
	// (leaf first). An error refuses the client within the handshake, with
	// an access_denied alert where the backend chooses the alert: it is how
	// a listener's identity rules keep an unwanted client from ever
	// finishing a handshake. It must be safe for concurrent use and quick:
	// it runs on the handshake path.
	Authorize func(chains [][]*x509.Certificate) error `yaml:"-"`
	// CRLSource, when set, supplies the CRLs published at the http
	// distribution points of the certificates of verified client chains,
	// checked as CRLs are. A certificate none of whose points yields a
	// list of its issuer is refused under CRLExpiredHard and accepted
	// with a warning under CRLExpiredSoft. It needs a client-auth mode
	// that verifies.
	CRLSource CRLSource `yaml:"-"`
	// Logger receives warnings from verification (an expired CRL under
	// CRLExpiredSoft); nil means slog.Default().
	Logger *slog.Logger `yaml:"-"`

	// DisableSessionTickets turns off resumption by ticket.
	DisableSessionTickets bool `yaml:"-"`
	// SessionTicketKeys: the first encrypts new tickets, all decrypt, so a
	// key can be rotated in by prepending it. Empty means random keys made
	// when the Server is built.
	SessionTicketKeys []SessionTicketKey `yaml:"-"`

	// ECHKeys turn on Encrypted ClientHello: every key decrypts, and those
	// with SendAsRetry are sent to a client whose config none of them
	// decrypts. Each public name must be covered by one of Certificates.
	// Only a backend whose Capabilities have ServerECH takes them.
	ECHKeys []ECHKey `yaml:"-"`

	// HandshakeTimeout bounds the handshake; zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
}

// Validate checks the config without any backend: it is what every backend's
// NewServer calls first, so a bad config fails the same way on all of them.
func (c *ServerConfig) Validate() error {
	if c == nil {
		return errors.New("tls: server config is nil")
	}
	if len(c.Certificates) == 0 {
		return fieldErr("certificates", "server config has no certificate")
	}
	for i := range c.Certificates {
		cert := &c.Certificates[i]
		field := fmt.Sprintf("certificates[%d]", i)
		if len(cert.Chain) == 0 {
			return fieldErr(field, "certificate %d has an empty chain", i)
		}
		leaf, err := cert.parsedLeaf()
		if err == nil {
			err = keyMatches(leaf, cert.Key)
		}
		if err != nil {
			return fieldErr(field, "certificate %d: %w", i, err)
		}
		if len(cert.SCTs) > 0 {
			if err := CheckSCTs(cert.SCTs); err != nil {
				return fieldErr(field+".scts", "certificate %d: %w", i, err)
			}
		}
	}
	if err := validateNames(c.Policy, c.CipherSuites, c.Groups, c.ALPN); err != nil {
		return err
	}
	if !c.ClientAuth.valid() {
		return fieldErr("client_auth.mode", "invalid client auth mode %d", int(c.ClientAuth))
	}
	if c.ClientAuth.verifies() && len(c.ClientCAs) == 0 {
		return fieldErr("client_auth.ca", "client auth %q verifies client certificates but no client CA is configured", c.ClientAuth)
	}
	if len(c.CRLs) > 0 && !c.ClientAuth.verifies() {
		return fieldErr("client_auth.crls", "CRLs are set but client auth %q does not verify client certificates, so they would never be checked (use verify-if-given or require-and-verify)", c.ClientAuth)
	}
	if c.Authorize != nil && !c.ClientAuth.verifies() {
		return fieldErr("client_auth.mode", "an Authorize check is set but client auth %q does not verify client certificates, so it would judge certificates nobody checked", c.ClientAuth)
	}
	if c.CRLSource != nil && !c.ClientAuth.verifies() {
		return fieldErr("client_auth.crl_fetch.enabled", "CRL fetching is on but client auth %q does not verify client certificates, so no CRL would ever be checked (use verify-if-given or require-and-verify)", c.ClientAuth)
	}
	if !c.CRLExpired.valid() {
		return fieldErr("client_auth.crl_expired", "invalid expired-CRL policy %d", int(c.CRLExpired))
	}
	if c.HandshakeTimeout < 0 {
		return fieldErr("handshake_timeout", "negative handshake timeout")
	}
	return c.validateECH()
}

// Params resolves the config's policy against a backend's capabilities.
func (c *ServerConfig) Params(caps Capabilities) (Params, error) {
	if len(c.ECHKeys) > 0 && !caps.ServerECH {
		return Params{}, fieldErr("ech.keys", "this backend has no server-side ECH (Encrypted ClientHello) here; use backend gostd")
	}
	return resolvePolicy(c.Policy, c.CipherSuites, c.Groups, caps)
}

// Timeout is HandshakeTimeout with its default applied.
func (c *ServerConfig) Timeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// ClientConfig is the client side of TLS, identical for every backend.
type ClientConfig struct {
	// RootCAs are the roots server certificates must chain to; nil means
	// the system roots.
	RootCAs []*x509.Certificate `yaml:"-"`
	// DisableVerifyCert accepts any server certificate chain. It also skips
	// the hostname check, which is meaningless without a trusted chain.
	// In YAML it is verify_cert, true unless set to false.
	DisableVerifyCert bool `yaml:"verify_cert,negate"`
	// DisableVerifyHostname accepts a trusted chain issued to any name.
	// Verification never depends on whether SNI is sent: these two switches
	// are the only way to turn it off. In YAML it is verify_hostname, true
	// unless set to false.
	DisableVerifyHostname bool `yaml:"verify_hostname,negate"`

	// Certificate is presented when the server asks for one.
	Certificate *Certificate `yaml:"-"`

	// Policy, CipherSuites and Groups as in ServerConfig.
	Policy       string   `yaml:"policy"`
	CipherSuites []string `yaml:"cipher_suites"`
	Groups       []string `yaml:"groups"`
	// ALPN lists the protocols to offer, in preference order.
	ALPN []string `yaml:"alpn"`
	// MaxVersion caps the highest version offered below the policy's, for an
	// upstream that mishandles TLS 1.3 (and for tests that need TLS 1.2
	// between two backends). Zero means the policy's; VersionTLS12 and
	// VersionTLS13 are the only other values.
	MaxVersion uint16 `yaml:"-"`

	// DisableSessionCache turns off resumption. In YAML it is
	// session_cache, true unless set to false.
	DisableSessionCache bool `yaml:"session_cache,negate"`
	// SessionCacheSize bounds the cache of sessions (by server name); zero
	// means 256.
	SessionCacheSize int `yaml:"session_cache_size"`

	// CT, when set, requires valid signed certificate timestamps from
	// distinct configured Certificate Transparency logs (see CTPolicy).
	CT *CTPolicy `yaml:"ct"`

	// HandshakeTimeout bounds the handshake; zero means
	// DefaultHandshakeTimeout. It has no key of its own: the proxy sets it
	// from its upstream TLS handshake timeout.
	HandshakeTimeout time.Duration `yaml:"-"`

	// OCSP says what to do with the OCSP response the server staples: off
	// (the default) ignores it, if-stapled refuses a server whose stapled
	// response is bad or says revoked, require also refuses a server that
	// staples none.
	OCSP OCSPCheck `yaml:"ocsp"`
	// Fingerprint, when set, sends the ClientHello of a browser
	// (FingerprintChrome, FingerprintFirefox, FingerprintSafari) or a
	// randomized one (FingerprintRandomized) instead of the backend's
	// own, for upstreams that judge clients by their fingerprint. The
	// profile decides the suites, groups and extensions offered (so
	// cipher_suites, groups and MaxVersion cannot be set with it); ALPN
	// is still ALPN, and the negotiated version and suite must still be
	// ones Policy allows. Certificates are verified as always.
	Fingerprint string `yaml:"fingerprint"`
}

// ClientHello fingerprints a ClientConfig can ask for.
const (
	FingerprintChrome     = "chrome"
	FingerprintFirefox    = "firefox"
	FingerprintSafari     = "safari"
	FingerprintRandomized = "randomized"
)

// Fingerprints lists the values of ClientConfig.Fingerprint.
func Fingerprints() []string {
	return []string{FingerprintChrome, FingerprintFirefox, FingerprintSafari, FingerprintRandomized}
}

// validateFingerprint checks Fingerprint and what it cannot go with.
func (c *ClientConfig) validateFingerprint() error {
	switch c.Fingerprint {
	case "":
		return nil
	case FingerprintChrome, FingerprintFirefox, FingerprintSafari, FingerprintRandomized:
	default:
		return fieldErr("fingerprint", "unknown fingerprint %q (want %s)", c.Fingerprint, strings.Join(Fingerprints(), ", "))
	}
	switch {
	case len(c.CipherSuites) > 0:
		return fieldErr("cipher_suites", "cannot be set with fingerprint %q: the profile decides the suites offered", c.Fingerprint)
	case len(c.Groups) > 0:
		return fieldErr("groups", "cannot be set with fingerprint %q: the profile decides the groups offered", c.Fingerprint)
	case c.MaxVersion != 0:
		return fieldErr("max_version", "cannot be set with fingerprint %q: the profile decides the versions offered", c.Fingerprint)
	}
	return nil
}

// Validate checks the config without any backend.
func (c *ClientConfig) Validate() error {
	if c == nil {
		return errors.New("tls: client config is nil")
	}
	if c.Certificate != nil {
		if len(c.Certificate.Chain) == 0 {
			return fieldErr("cert", "client certificate has an empty chain")
		}
		leaf, err := c.Certificate.parsedLeaf()
		if err == nil {
			err = keyMatches(leaf, c.Certificate.Key)
		}
		if err != nil {
			return fieldErr("cert", "client certificate: %w", err)
		}
	}
	if err := validateNames(c.Policy, c.CipherSuites, c.Groups, c.ALPN); err != nil {
		return err
	}
	switch c.MaxVersion {
	case 0, VersionTLS13:
	case VersionTLS12:
		if c.Policy == PolicyModern {
			return fieldErr("max_version", "max version TLS 1.2 contradicts policy %q, which is TLS 1.3 only", c.Policy)
		}
	default:
		return fieldErr("max_version", "unsupported max version 0x%04x (want TLS 1.2 or TLS 1.3)", c.MaxVersion)
	}
	if c.SessionCacheSize < 0 {
		return fieldErr("session_cache_size", "negative session cache size")
	}
	if _, err := compileCTPolicy(c.CT); err != nil {
		return err
	}
	if c.HandshakeTimeout < 0 {
		return fieldErr("handshake_timeout", "negative handshake timeout")
	}
	if _, err := c.OCSP.MarshalText(); err != nil {
		return fieldErr("ocsp", "invalid OCSP check %d", int(c.OCSP))
	}
	return c.validateFingerprint()
}

// Params resolves the config's policy against a backend's capabilities.
func (c *ClientConfig) Params(caps Capabilities) (Params, error) {
	if c.Fingerprint != "" && !caps.ClientFingerprints {
		return Params{}, fieldErr("fingerprint", "cannot send a %s ClientHello: only the gostd backend can mimic another client (through uTLS); use backend gostd for this upstream", c.Fingerprint)
	}
	p, err := resolvePolicy(c.Policy, c.CipherSuites, c.Groups, caps)
	if err != nil {
		return Params{}, err
	}
	if c.MaxVersion != 0 && c.MaxVersion < p.MaxVersion {
		if c.MaxVersion < p.MinVersion {
			return Params{}, fieldErr("max_version", "max version 0x%04x is below the policy's minimum 0x%04x", c.MaxVersion, p.MinVersion)
		}
		p.MaxVersion = c.MaxVersion
	}
	return p, nil
}

// Timeout is HandshakeTimeout with its default applied.
func (c *ClientConfig) Timeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// CacheSize is SessionCacheSize with its default applied.
func (c *ClientConfig) CacheSize() int {
	if c.SessionCacheSize > 0 {
		return c.SessionCacheSize
	}
	return 256
}

// validateNames checks names against what Gantry knows, before any backend
// capability is considered, so typos are reported as typos.
func validateNames(policy string, suiteNames, groupNames, alpn []string) error {
	switch policy {
	case "", PolicyModern, PolicyIntermediate:
	default:
		return unknownPolicy(policy)
	}
	for i, name := range suiteNames {
		s, ok := SuiteByName(name)
		if !ok {
			return unknownSuite(i, name)
		}
		if policy == PolicyModern && !s.TLS13 {
			return suiteOutsidePolicy(i, s, policy)
		}
	}
	for i, name := range groupNames {
		if _, ok := parseGroup(name); !ok {
			return fieldErr(fmt.Sprintf("groups[%d]", i), "%w", unknownGroup(name))
		}
	}
	for i, p := range alpn {
		field := fmt.Sprintf("alpn[%d]", i)
		if p == "" {
			return fieldErr(field, "ALPN entry %d is empty", i)
		}
		if len(p) > 255 {
			return fieldErr(field, "ALPN entry %d is longer than 255 bytes", i)
		}
	}
	return nil
}
