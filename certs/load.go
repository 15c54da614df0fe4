package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// The loaders below come in two forms: exported ones for a caller that
// loads one file, whose errors say "certs: …", and unexported ones whose
// errors Load places at a field, where the prefix would only be noise.
// Either way an error names the file and never quotes what is in it. Only
// Load checks key files with a KeyGuard: the exported loaders read what
// they are given, for programs that embed the packages and decide that
// themselves.

// LoadKeyPair reads a PEM certificate chain (leaf first) and the PEM private
// key of its leaf, and checks that they belong together.
func LoadKeyPair(certFile, keyFile string) (gantrytls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return gantrytls.Certificate{}, errors.New("certs: a key pair needs both a certificate file and a key file")
	}
	c, certErr, keyErr, pairErr := loadKeyPair(certFile, keyFile)
	if err := errors.Join(certErr, keyErr, pairErr); err != nil {
		return gantrytls.Certificate{}, fmt.Errorf("certs: %w", err)
	}
	return c, nil
}

// LoadCAs reads every certificate of a PEM file of CA certificates.
func LoadCAs(file string) ([]*x509.Certificate, error) {
	cas, err := loadCAs(file)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return cas, nil
}

// LoadTicketKey reads a 32-byte session ticket key stored raw (as
// `openssl rand 32 > FILE` writes it), as 64 hex digits or as base64.
func LoadTicketKey(file string) (gantrytls.SessionTicketKey, error) {
	k, err := loadTicketKey(file)
	if err != nil {
		return k, fmt.Errorf("certs: %w", err)
	}
	return k, nil
}

// readFile reads a file that must exist and be a file, with errors a user
// can act on.
func readFile(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file %s does not exist", name)
	}
	if err != nil {
		return nil, err // a *fs.PathError, which names the file
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", name)
	}
	return os.ReadFile(name)
}

// loadKeyPair splits its errors by fault: certErr and keyErr are about one
// file alone (it is missing or unreadable), pairErr about what the two
// hold. Both names must be non-empty.
func loadKeyPair(certFile, keyFile string) (c gantrytls.Certificate, certErr, keyErr, pairErr error) {
	certPEM, certErr := readFile(certFile)
	keyPEM, keyErr := readFile(keyFile)
	if certErr != nil || keyErr != nil {
		return c, certErr, keyErr, nil
	}
	c, err := gantrytls.ParseCertificatePEM(certPEM, keyPEM)
	if err != nil {
		return c, nil, nil, fmt.Errorf("%w (certificate %s, key %s)", err, certFile, keyFile)
	}
	return c, nil, nil, nil
}

func loadCAs(file string) ([]*x509.Certificate, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, err
	}
	cas, err := gantrytls.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cas, nil
}

func loadTicketKey(file string) (gantrytls.SessionTicketKey, error) {
	var k gantrytls.SessionTicketKey
	data, err := readFile(file)
	if err != nil {
		return k, err
	}
	if len(data) == len(k) {
		copy(k[:], data)
		return k, nil
	}
	text := strings.TrimSpace(string(data))
	if b, err := hex.DecodeString(text); err == nil && len(b) == len(k) {
		copy(k[:], b)
		return k, nil
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && len(b) == len(k) {
		copy(k[:], b)
		return k, nil
	}
	return k, fmt.Errorf("ticket key file %s must hold exactly 32 bytes (raw, 64 hex digits or base64); make one with `openssl rand 32 > FILE`", file)
}

// ServerSet is what ServerFiles hold, loaded and checked: the parts of a
// gantrytls.ServerConfig that come from files.
type ServerSet struct {
	Certificates          []gantrytls.Certificate
	ClientAuth            gantrytls.ClientAuthMode
	ClientCAs             []*x509.Certificate
	CRLs                  []*x509.RevocationList
	CRLExpired            gantrytls.CRLExpiredPolicy
	DisableSessionTickets bool
	SessionTicketKeys     []gantrytls.SessionTicketKey
	ECHKeys               []gantrytls.ECHKey
	// Warnings are the key files KeyGuard accepted in warn mode, one
	// *gantrytls.FieldError each, placed as Load's errors are.
	Warnings []error
	// staples are the certificates with an OCSP source, in order.
	staples []stapleSlot
}

// Apply returns c with the fields that come from files set from s.
func (s ServerSet) Apply(c gantrytls.ServerConfig) gantrytls.ServerConfig {
	c.Certificates = s.Certificates
	c.ClientAuth = s.ClientAuth
	c.ClientCAs = s.ClientCAs
	c.CRLs = s.CRLs
	c.CRLExpired = s.CRLExpired
	c.DisableSessionTickets = s.DisableSessionTickets
	c.SessionTicketKeys = s.SessionTicketKeys
	c.ECHKeys = s.ECHKeys
	return c
}

// ClientSet is what ClientFiles hold, loaded and checked.
type ClientSet struct {
	// RootCAs is nil when no CA file is named: the system roots.
	RootCAs []*x509.Certificate
	// Certificate is nil when no client certificate is named.
	Certificate *gantrytls.Certificate
	// Warnings are as ServerSet's.
	Warnings []error
}

// Apply returns c with the fields that come from files set from s.
func (s ClientSet) Apply(c gantrytls.ClientConfig) gantrytls.ClientConfig {
	c.RootCAs = s.RootCAs
	c.Certificate = s.Certificate
	return c
}

// fieldErrors collects every problem found, each at its field, so that one
// run reports them all.
type fieldErrors []error

func (e *fieldErrors) add(field string, err error) {
	*e = append(*e, &gantrytls.FieldError{Field: field, Err: err})
}

func (e *fieldErrors) addf(field, format string, args ...any) {
	e.add(field, fmt.Errorf(format, args...))
}

// Load reads and checks every file. The error joins one
// *gantrytls.FieldError per problem, its Field the YAML key within
// ServerFiles ("certificates[0].key", "client_auth.ca"); on error the set is
// empty, never partly loaded.
func (f ServerFiles) Load() (ServerSet, error) {
	var errs, warns fieldErrors
	var set ServerSet
	if len(f.Certificates) == 0 {
		errs.addf("certificates", "at least one {cert, key} pair is required")
	}
	for i, kp := range f.Certificates {
		field := fmt.Sprintf("certificates[%d]", i)
		if c, ok := kp.load(f.KeyGuard, &errs, &warns, field, field+".cert", field+".key"); ok {
			if c.SCTs, ok = loadSCTs(&errs, field+".scts", kp.SCTs); ok {
				set.Certificates = append(set.Certificates, c)
			}
		}
	}

	mode := f.ClientAuth.Mode
	set.ClientAuth = mode
	if _, err := mode.MarshalText(); err != nil {
		errs.addf("client_auth.mode", "invalid client auth mode %d", int(mode))
	}
	f.ClientAuth.load(&errs, &set)

	if t := f.SessionTickets; t.Enabled != nil && !*t.Enabled {
		set.DisableSessionTickets = true
		if len(t.KeyFiles) > 0 {
			errs.addf("session_tickets.key_files", "key files are set but session tickets are disabled")
		}
	}
	for i, name := range f.SessionTickets.KeyFiles {
		field := fmt.Sprintf("session_tickets.key_files[%d]", i)
		if name == "" {
			errs.addf(field, "is empty: name a file of 32 random bytes")
			continue
		}
		if !f.KeyGuard.guard(&errs, &warns, field, name) {
			continue
		}
		k, err := loadTicketKey(name)
		if err != nil {
			errs.add(field, err)
			continue
		}
		set.SessionTicketKeys = append(set.SessionTicketKeys, k)
	}
	set.ECHKeys = f.ECH.load(f.KeyGuard, &errs, &warns)
	f.loadOCSP(&errs, &warns, &set)

	if len(errs) > 0 {
		return ServerSet{}, errors.Join(errs...)
	}
	set.Warnings = warns
	return set, nil
}

// load reads the client CAs and CRLs into set.
func (a ClientAuthFiles) load(errs *fieldErrors, set *ServerSet) {
	mode := a.Mode
	named := a.CA != "" || len(a.CAs) > 0
	if named && mode == gantrytls.ClientAuthNone {
		field := "client_auth.ca"
		if a.CA == "" {
			field = "client_auth.cas"
		}
		errs.addf(field, "a CA is set but mode is none, so client certificates are never asked for (set mode, e.g. require-and-verify)")
	}
	if !named && (mode == gantrytls.ClientAuthVerifyIfGiven || mode == gantrytls.ClientAuthRequireAndVerify) {
		errs.addf("client_auth.ca", "mode %s verifies client certificates and needs a ca file (or cas)", mode)
	}
	if a.CA != "" {
		cas, err := loadCAs(a.CA)
		if err != nil {
			errs.add("client_auth.ca", err)
		}
		set.ClientCAs = append(set.ClientCAs, cas...)
	}
	for i, name := range a.CAs {
		field := fmt.Sprintf("client_auth.cas[%d]", i)
		if name == "" {
			errs.addf(field, "is empty: name a PEM file of CA certificates")
			continue
		}
		cas, err := loadCAs(name)
		if err != nil {
			errs.add(field, err)
		}
		set.ClientCAs = append(set.ClientCAs, cas...)
	}

	if _, err := a.CRLExpired.MarshalText(); err != nil {
		errs.addf("client_auth.crl_expired", "invalid expired-CRL policy %d", int(a.CRLExpired))
	}
	set.CRLExpired = a.CRLExpired
	if len(a.CRLs) > 0 && mode != gantrytls.ClientAuthVerifyIfGiven && mode != gantrytls.ClientAuthRequireAndVerify {
		errs.addf("client_auth.crls", "CRLs are set but mode %s does not verify client certificates, so they would never be checked (use verify-if-given or require-and-verify)", mode)
	}
	a.CRLFetch.check(errs, "client_auth.crl_fetch", mode == gantrytls.ClientAuthVerifyIfGiven || mode == gantrytls.ClientAuthRequireAndVerify)
	for i, name := range a.CRLs {
		field := fmt.Sprintf("client_auth.crls[%d]", i)
		if name == "" {
			errs.addf(field, "is empty: name a CRL file (PEM or DER)")
			continue
		}
		crl, err := loadCRL(name, set.ClientCAs)
		if err != nil {
			errs.add(field, err)
			continue
		}
		set.CRLs = append(set.CRLs, crl)
	}
}

// LoadCRL reads a certificate revocation list, PEM ("X509 CRL") or DER.
func LoadCRL(file string) (*x509.RevocationList, error) {
	crl, err := loadCRL(file, nil)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return crl, nil
}

// loadCRL reads a CRL. When one of cas is its issuer by name, the CRL must
// carry that CA's signature; a CRL of an issuer not among them (an
// intermediate the clients send) has its signature checked during the
// handshake, against the intermediate.
func loadCRL(file string, cas []*x509.Certificate) (*x509.RevocationList, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, err
	}
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("%s: PEM block is %q, want \"X509 CRL\"", file, block.Type)
		}
		der = block.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a CRL (PEM or DER): %w", file, err)
	}
	var named, signed bool
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			named = true
			if crl.CheckSignatureFrom(ca) == nil {
				signed = true
				break
			}
		}
	}
	if named && !signed {
		return nil, fmt.Errorf("%s: the CRL names issuer %q but does not carry the signature of the CA of that name", file, crl.Issuer)
	}
	return crl, nil
}

// Load reads and checks every file named. The error joins one
// *gantrytls.FieldError per problem, its Field "ca", "cert" or "key" (a
// certificate that does not parse or does not match its key is the
// cert's); on error the set is empty.
func (f ClientFiles) Load() (ClientSet, error) {
	var errs, warns fieldErrors
	var set ClientSet
	if f.CA != "" {
		cas, err := loadCAs(f.CA)
		if err != nil {
			errs.add("ca", err)
		}
		set.RootCAs = cas
	}
	switch {
	case f.Cert != "" && f.Key != "":
		if c, ok := (KeyPair{Cert: f.Cert, Key: f.Key}).load(f.KeyGuard, &errs, &warns, "cert", "cert", "key"); ok {
			set.Certificate = &c
		}
	case f.Cert != "":
		errs.addf("key", "cert is set, so key is required")
	case f.Key != "":
		errs.addf("cert", "key is set, so cert is required")
	}
	if len(errs) > 0 {
		return ClientSet{}, errors.Join(errs...)
	}
	set.Warnings = warns
	return set, nil
}

// load reads the pair, adding problems with one file at certField or
// keyField and problems with the pair at pairField. g checks the key file
// first; a key it refuses is not read.
func (k KeyPair) load(g KeyGuard, errs, warns *fieldErrors, pairField, certField, keyField string) (gantrytls.Certificate, bool) {
	if k.Cert == "" {
		errs.addf(certField, "is required")
	}
	if k.Key == "" {
		errs.addf(keyField, "is required")
	}
	if k.Cert == "" || k.Key == "" {
		return gantrytls.Certificate{}, false
	}
	if !g.guard(errs, warns, keyField, k.Key) {
		if _, err := readFile(k.Cert); err != nil {
			errs.add(certField, err)
		}
		return gantrytls.Certificate{}, false
	}
	c, certErr, keyErr, pairErr := loadKeyPair(k.Cert, k.Key)
	if certErr != nil {
		errs.add(certField, certErr)
	}
	if keyErr != nil {
		errs.add(keyField, keyErr)
	}
	if pairErr != nil {
		errs.add(pairField, pairErr)
	}
	return c, certErr == nil && keyErr == nil && pairErr == nil
}
