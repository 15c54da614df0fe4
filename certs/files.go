package certs

import (
	"path/filepath"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// KeyPair names a certificate chain file and the file of its private key.
type KeyPair struct {
	// Cert is a PEM file holding the certificate chain: the server's own
	// certificate first, then the intermediates that lead to a root the
	// clients trust. The root itself need not be included.
	Cert string `yaml:"cert"`
	// Key is a PEM file holding the private key of the first certificate in
	// Cert (PKCS #8, PKCS #1 or SEC 1; ECDSA, RSA or Ed25519). Keep it
	// readable by Gantry alone (mode 0600): Load refuses it otherwise (see
	// KeyGuard).
	Key string `yaml:"key"`
	// SCTs is a file holding signed certificate timestamps (RFC 6962) for
	// the certificate of Cert, served in the TLS extension
	// signed_certificate_timestamp to clients that ask for them: one
	// SignedCertificateTimestampList, in its TLS encoding (as the
	// extension carries it), raw or in base64. Optional.
	SCTs string `yaml:"scts"`
	// OCSP says where the OCSP response stapled with this certificate
	// comes from; empty staples none.
	OCSP OCSPSource `yaml:"ocsp"`
}

// ServerFiles are the files a TLS server reads: what it serves, whom it
// asks for certificates, and how it encrypts session tickets.
type ServerFiles struct {
	// Certificates are the {cert, key} pairs to serve; at least one is
	// required. A client that asks for a name (SNI) gets the first pair
	// whose certificate is valid for that name; a client that asks for no
	// name, or for one that no certificate covers, gets the first pair.
	Certificates []KeyPair `yaml:"certificates"`
	// ClientAuth asks clients for certificates (mutual TLS).
	ClientAuth ClientAuthFiles `yaml:"client_auth"`
	// SessionTickets controls resumption by session ticket.
	SessionTickets TicketFiles `yaml:"session_tickets"`
	// ECH turns on Encrypted ClientHello with keys from files.
	ECH ECHFiles `yaml:"ech"`
	// KeyGuard checks every key file (certificates' keys, ticket key
	// files, ECH key files) before it is read.
	KeyGuard KeyGuard `yaml:"-"`
	// OCSP holds the settings of OCSP stapling shared by the certificates.
	OCSP OCSPOptions `yaml:"ocsp"`
}

// ClientAuthFiles say whether a server asks clients for certificates and
// which CAs it trusts to issue them.
type ClientAuthFiles struct {
	// Mode is one of none (the default: never ask), request (ask, accept a
	// client without one, do not verify one given), require (refuse a
	// client without one, do not verify it), verify-if-given (accept a
	// client without one, verify one given) and require-and-verify (refuse
	// a client without one, verify it). The verify modes need CA.
	Mode gantrytls.ClientAuthMode `yaml:"mode"`
	// CA is a PEM file of the CA certificates that client certificates
	// must chain to. Their names are sent to clients so that a client
	// with several certificates can pick the right one. Setting CA with
	// mode none is an error: no client would ever be asked.
	CA string `yaml:"ca"`
	// CAs are more PEM files of CA certificates, trusted as CA is: a client
	// certificate may chain to any of them. CA and CAs may be used alone
	// or together.
	CAs []string `yaml:"cas"`
	// CRLs are certificate revocation list files (PEM "X509 CRL" blocks or
	// DER), checked on every handshake, resumed ones included, for the
	// client's certificate and its intermediates. A CRL applies to the
	// certificates of the issuer it names and must carry that issuer's
	// signature. They are re-read on every reload.
	CRLs []string `yaml:"crls"`
	// CRLExpired is hard (the default: a CRL past its NextUpdate refuses
	// every client of its issuer) or soft (log a warning and accept).
	CRLExpired gantrytls.CRLExpiredPolicy `yaml:"crl_expired"`
	// CRLFetch fetches the CRLs of client certificates from their
	// distribution points, in addition to CRLs.
	CRLFetch CRLFetch `yaml:"crl_fetch"`
}

// TicketFiles control session tickets, which let a returning client resume
// its session without a full handshake.
type TicketFiles struct {
	// Enabled turns session tickets on or off; they are on when it is not
	// set.
	Enabled *bool `yaml:"enabled"`
	// KeyFiles are files of 32-byte ticket keys, each stored raw, as 64 hex
	// digits or as base64; make one with `openssl rand 32 > FILE`. The first
	// key encrypts new tickets and every key decrypts, so a new key is
	// rotated in by putting it first and an old one retired by removing it.
	// Servers that share the files resume each other's sessions. When
	// empty, each server makes random keys at start and rotates them
	// daily, and no two servers share them.
	KeyFiles []string `yaml:"key_files"`
}

// ECHFiles are the Encrypted ClientHello keys of a server, each in a file
// that `gantry certs ech` writes.
type ECHFiles struct {
	// Keys are ECH key files (a PKCS #8 "PRIVATE KEY" block and an
	// "ECHCONFIG" block; see ParseECHKeyPEM). Every key decrypts; the
	// first is the current one, whose config is published in DNS. Rotate
	// by putting a new key first, publishing its config, and removing the
	// old one once the old record's TTL has passed. Keep them readable by
	// Gantry alone: they are guarded as private keys are.
	Keys []string `yaml:"keys"`
	// SendAsRetry says which configs a client gets when it offers ECH with
	// a config no key decrypts (a stale DNS answer): first (the default:
	// the current key's only) or all.
	SendAsRetry ECHRetry `yaml:"send_as_retry"`
}

// ClientFiles are the files a TLS client (Gantry towards an upstream) reads.
type ClientFiles struct {
	// CA is a PEM file of the CA certificates that upstream certificates
	// must chain to. When empty, the system's roots are trusted.
	CA string `yaml:"ca"`
	// Cert is a PEM file with the client certificate chain Gantry presents
	// when an upstream asks for one (mutual TLS). Set it together with Key.
	Cert string `yaml:"cert"`
	// Key is the PEM file of Cert's private key. Set it together with Cert.
	Key string `yaml:"key"`
	// KeyGuard checks Key before it is read.
	KeyGuard KeyGuard `yaml:"-"`
}

// Resolve returns a copy of f in which every relative file name is taken
// relative to dir, as a config file's names are relative to the directory
// the config file is in. Empty names stay empty.
func (f ServerFiles) Resolve(dir string) ServerFiles {
	out := f
	if f.Certificates != nil {
		out.Certificates = make([]KeyPair, len(f.Certificates))
		for i, kp := range f.Certificates {
			out.Certificates[i] = KeyPair{Cert: resolve(dir, kp.Cert), Key: resolve(dir, kp.Key)}
			out.Certificates[i].SCTs = resolve(dir, kp.SCTs)
		}
	}
	out.ClientAuth.CA = resolve(dir, f.ClientAuth.CA)
	out.ClientAuth.CAs = resolveAll(dir, f.ClientAuth.CAs)
	out.ClientAuth.CRLs = resolveAll(dir, f.ClientAuth.CRLs)
	out.ClientAuth.CRLFetch.CacheDir = resolve(dir, f.ClientAuth.CRLFetch.CacheDir)
	if f.SessionTickets.Enabled != nil {
		enabled := *f.SessionTickets.Enabled
		out.SessionTickets.Enabled = &enabled
	}
	out.SessionTickets.KeyFiles = resolveAll(dir, f.SessionTickets.KeyFiles)
	out.ECH.Keys = resolveAll(dir, f.ECH.Keys)
	for i := range out.Certificates {
		src := f.Certificates[i].OCSP
		src.File, src.Issuer = resolve(dir, src.File), resolve(dir, src.Issuer)
		out.Certificates[i].OCSP = src
	}
	out.OCSP.CacheDir = resolve(dir, f.OCSP.CacheDir)
	return out
}

// Empty reports whether f names no file.
func (f ClientFiles) Empty() bool { return f.CA == "" && f.Cert == "" && f.Key == "" }

// Resolve returns f with every relative file name taken relative to dir.
func (f ClientFiles) Resolve(dir string) ClientFiles {
	return ClientFiles{CA: resolve(dir, f.CA), Cert: resolve(dir, f.Cert), Key: resolve(dir, f.Key), KeyGuard: f.KeyGuard}
}

// resolveAll resolves each name into a new slice; nil stays nil.
func resolveAll(dir string, names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = resolve(dir, name)
	}
	return out
}

func resolve(dir, name string) string {
	if name == "" || dir == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// Paths lists every file f names, each once, in the order the config names
// them: what a watcher of f's files looks at.
func (f ServerFiles) Paths() []string {
	var out []string
	for _, kp := range f.Certificates {
		out = append(out, kp.Cert, kp.Key, kp.SCTs, kp.OCSP.File, kp.OCSP.Issuer)
	}
	out = append(out, f.ClientAuth.CA)
	out = append(out, f.ClientAuth.CAs...)
	out = append(out, f.ClientAuth.CRLs...)
	out = append(out, f.SessionTickets.KeyFiles...)
	out = append(out, f.ECH.Keys...)
	return uniqueNames(out)
}

// Paths lists every file f names, each once.
func (f ClientFiles) Paths() []string { return uniqueNames([]string{f.CA, f.Cert, f.Key}) }

// uniqueNames drops empty and repeated names, keeping the first of each.
func uniqueNames(names []string) []string {
	out := names[:0]
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
