package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Validity periods: long enough for a demo or a test run, short enough that
// a forgotten development certificate does not linger for years.
const (
	caValidity   = 90 * 24 * time.Hour
	leafValidity = 30 * 24 * time.Hour
	// backdate tolerates clocks slightly behind ours.
	backdate = time.Hour
)

// DevCA is an in-memory development certificate authority: a root, or an
// intermediate issued by one.
type DevCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// chain is the intermediates from this CA up to, not including, the
	// root: empty for a root, this CA first for an intermediate.
	chain []*x509.Certificate
}

// Issued is a certificate issued by a DevCA with its private key.
type Issued struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// Chain is the intermediates between Cert and the root, nearest first;
	// empty when a root issued Cert.
	Chain []*x509.Certificate
}

// NewDevCA makes a fresh CA with an ECDSA P-256 key, which issues leaf
// certificates only.
func NewDevCA() (*DevCA, error) { return NewCA("", false) }

// NewCA makes a fresh root CA with an ECDSA P-256 key. cn is its common
// name ("Gantry Development CA …" when empty); with intermediates it may
// issue one level of intermediate CAs (IssueIntermediate), otherwise leaf
// certificates only.
func NewCA(cn string, intermediates bool) (*DevCA, error) {
	return newCA(nil, cn, intermediates)
}

// IssueIntermediate issues an intermediate CA, which issues leaf
// certificates only. The root must have been made with intermediates.
func (ca *DevCA) IssueIntermediate(cn string) (*DevCA, error) {
	if len(ca.chain) > 0 || ca.cert.MaxPathLenZero {
		return nil, errors.New("certs: this CA may not issue intermediate CAs")
	}
	return newCA(ca, cn, false)
}

func newCA(parent *DevCA, cn string, intermediates bool) (*DevCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	if cn == "" {
		cn = "Gantry Development CA " + serial.Text(16)[:8]
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Gantry development CA (not for production)"},
			CommonName:   cn,
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Nothing below the CA may itself be a CA, unless asked.
		MaxPathLenZero: !intermediates,
	}
	if intermediates {
		tmpl.MaxPathLen = 1
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
		if tmpl.NotAfter.After(parent.cert.NotAfter) {
			tmpl.NotAfter = parent.cert.NotAfter
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parse CA certificate: %w", err)
	}
	ca := &DevCA{cert: cert, key: key}
	if parent != nil {
		ca.chain = append([]*x509.Certificate{cert}, parent.chain...)
	}
	return ca, nil
}

// CRL signs a certificate revocation list of this CA that revokes the
// given serial numbers and is due for renewal at nextUpdate, in PEM. Its
// CRL number is the current time in nanoseconds, so a later list
// supersedes an earlier one.
func (ca *DevCA) CRL(revoked []*big.Int, nextUpdate time.Time) ([]byte, error) {
	now := time.Now()
	this := now.Add(-time.Minute)
	if !this.Before(nextUpdate) {
		// An already expired list, as tests of expiry want one.
		this = nextUpdate.Add(-time.Hour)
	}
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(now.UnixNano()),
		ThisUpdate: this,
		NextUpdate: nextUpdate,
	}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CRL: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// Certificate is the CA's own certificate, the root to trust.
func (ca *DevCA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM is the CA certificate in PEM, as clients load it (curl --cacert).
func (ca *DevCA) CertPEM() []byte { return certPEM(ca.cert) }

// IssueServer issues a server certificate for names, which may be DNS names
// or IP addresses. The first name is also the subject's common name.
func (ca *DevCA) IssueServer(names ...string) (*Issued, error) {
	if len(names) == 0 {
		return nil, errors.New("certs: a server certificate needs at least one name")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return ca.issue(tmpl)
}

// IssueClient issues a client certificate whose subject common name is cn,
// the identity mTLS policies see.
func (ca *DevCA) IssueClient(cn string) (*Issued, error) {
	if cn == "" {
		return nil, errors.New("certs: a client certificate needs a common name")
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *DevCA) issue(tmpl *x509.Certificate) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate key: %w", err)
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(leafValidity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: create certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parse certificate: %w", err)
	}
	return &Issued{Cert: cert, Key: key, Chain: ca.chain}, nil
}

func newSerial() (*big.Int, error) {
	// 128 random bits, as CA/Browser Forum rules ask of public CAs: serials
	// must not be guessable.
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certs: serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

// CertPEM is the issued certificate in PEM, followed by the intermediates
// of Chain (the root is what peers trust, so it is not part of the served
// chain).
func (i *Issued) CertPEM() []byte {
	out := certPEM(i.Cert)
	for _, c := range i.Chain {
		out = append(out, certPEM(c)...)
	}
	return out
}

// KeyPEM is the private key in PKCS #8 PEM.
func (i *Issued) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(i.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Certificate is the pair in the TLS seam's form, ready for a ServerConfig
// or ClientConfig.
func (i *Issued) Certificate() (gantrytls.Certificate, error) {
	chain := [][]byte{i.Cert.Raw}
	for _, c := range i.Chain {
		chain = append(chain, c.Raw)
	}
	return gantrytls.NewCertificate(chain, i.Key)
}

// WriteFiles writes the certificate to certFile (mode 0644) and the key to
// keyFile (mode 0600).
func (i *Issued) WriteFiles(certFile, keyFile string) error {
	keyPEM, err := i.KeyPEM()
	if err != nil {
		return err
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, i.CertPEM(), 0o644)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// DevFiles names the files WriteDevFiles writes, all inside one directory.
type DevFiles struct {
	Dir                   string
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	ServerNames           []string
	ClientCommonName      string
}

// DefaultServerNames are the names the development server certificate is
// valid for: what a browser or curl on this machine would use.
var DefaultServerNames = []string{"localhost", "127.0.0.1", "::1"}

// WriteDevFiles makes a new CA and writes into dir (created with mode 0700
// if missing): ca.pem, server.pem, server-key.pem (for serverNames, or
// DefaultServerNames when empty), client.pem and client-key.pem (common
// name clientCN, or "gantry-dev-client"). Keys get mode 0600. Existing files
// are replaced only when overwrite is set.
func WriteDevFiles(dir string, serverNames []string, clientCN string, overwrite bool) (*DevFiles, error) {
	if len(serverNames) == 0 {
		serverNames = DefaultServerNames
	}
	if clientCN == "" {
		clientCN = "gantry-dev-client"
	}
	f := &DevFiles{
		Dir:              dir,
		CA:               filepath.Join(dir, "ca.pem"),
		ServerCert:       filepath.Join(dir, "server.pem"),
		ServerKey:        filepath.Join(dir, "server-key.pem"),
		ClientCert:       filepath.Join(dir, "client.pem"),
		ClientKey:        filepath.Join(dir, "client-key.pem"),
		ServerNames:      serverNames,
		ClientCommonName: clientCN,
	}
	if !overwrite {
		for _, p := range []string{f.CA, f.ServerCert, f.ServerKey, f.ClientCert, f.ClientKey} {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("certs: %s already exists (use --force to replace it)", p)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	ca, err := NewDevCA()
	if err != nil {
		return nil, err
	}
	server, err := ca.IssueServer(serverNames...)
	if err != nil {
		return nil, err
	}
	client, err := ca.IssueClient(clientCN)
	if err != nil {
		return nil, err
	}
	if err := writeFile(f.CA, ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	if err := server.WriteFiles(f.ServerCert, f.ServerKey); err != nil {
		return nil, err
	}
	if err := client.WriteFiles(f.ClientCert, f.ClientKey); err != nil {
		return nil, err
	}
	return f, nil
}

// writeFile replaces path with data. The file is created with perm before
// any byte is written, and an existing file's mode is tightened, so a key
// is never readable by others even for a moment.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("certs: replace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	// The umask may have narrowed perm; it can never widen it, but make
	// the mode exact so 0644 certificates are readable as documented.
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("certs: chmod %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("certs: close %s: %w", path, err)
	}
	return nil
}

// LoadCA loads a CA from its certificate and private key files, as
// DevCA.WriteFiles writes them (PEM; the key PKCS #8 or SEC 1, ECDSA), so
// that one CA can issue certificates and CRLs across several runs. The
// certificate file must hold that one CA certificate.
func LoadCA(certFile, keyFile string) (*DevCA, error) {
	certData, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	var found []*x509.Certificate
	for rest := certData; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: %s: %w", certFile, err)
		}
		found = append(found, c)
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("certs: %s: no PEM CERTIFICATE", certFile)
	case len(found) > 1:
		return nil, fmt.Errorf("certs: %s: %d certificates; want the one CA certificate", certFile, len(found))
	}
	cert := found[0]
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("certs: %s: not a CA certificate", certFile)
	}
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	b, _ := pem.Decode(keyData)
	if b == nil {
		return nil, fmt.Errorf("certs: %s: no PEM private key", keyFile)
	}
	var key *ecdsa.PrivateKey
	switch b.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: %s: %w", keyFile, err)
		}
		var ok bool
		if key, ok = k.(*ecdsa.PrivateKey); !ok {
			return nil, fmt.Errorf("certs: %s: %T key; want ECDSA", keyFile, k)
		}
	case "EC PRIVATE KEY":
		if key, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
			return nil, fmt.Errorf("certs: %s: %w", keyFile, err)
		}
	default:
		return nil, fmt.Errorf("certs: %s: PEM %q; want PRIVATE KEY or EC PRIVATE KEY", keyFile, b.Type)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("certs: %s is not the key of %s", keyFile, certFile)
	}
	return &DevCA{cert: cert, key: key}, nil
}

// KeyPEM is the CA's private key in PKCS #8 PEM, for LoadCA.
func (ca *DevCA) KeyPEM() ([]byte, error) {
	return (&Issued{Key: ca.key}).KeyPEM()
}

// WriteFiles writes the CA certificate to certFile (mode 0644) and its key
// to keyFile (mode 0600), for LoadCA.
func (ca *DevCA) WriteFiles(certFile, keyFile string) error {
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, ca.CertPEM(), 0o644)
}

// ClientOptions is the identity of a client certificate: what mTLS
// identity rules match on. At least one field must be set.
type ClientOptions struct {
	CommonName          string
	Organizations       []string
	OrganizationalUnits []string
	DNSNames            []string
	URIs                []*url.URL // such as spiffe://example.org/billing
	EmailAddresses      []string
	// CRLDistributionPoints are URLs where the CA publishes the CRL that
	// would revoke the certificate (client_auth.crl_fetch follows the
	// http ones). Not part of the identity.
	CRLDistributionPoints []string
}

// IssueClientWith issues a client certificate with the subject and subject
// alternative names of opts.
func (ca *DevCA) IssueClientWith(opts ClientOptions) (*Issued, error) {
	if opts.CommonName == "" && len(opts.DNSNames) == 0 && len(opts.URIs) == 0 && len(opts.EmailAddresses) == 0 {
		return nil, errors.New("certs: a client certificate needs a common name or a subject alternative name")
	}
	for _, u := range opts.URIs {
		if u == nil || u.Scheme == "" {
			return nil, fmt.Errorf("certs: URI %v has no scheme", u)
		}
	}
	return ca.issue(&x509.Certificate{
		Subject: pkix.Name{
			CommonName:         opts.CommonName,
			Organization:       append([]string(nil), opts.Organizations...),
			OrganizationalUnit: append([]string(nil), opts.OrganizationalUnits...),
		},
		DNSNames:              append([]string(nil), opts.DNSNames...),
		URIs:                  append([]*url.URL(nil), opts.URIs...),
		EmailAddresses:        append([]string(nil), opts.EmailAddresses...),
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CRLDistributionPoints: append([]string(nil), opts.CRLDistributionPoints...),
	})
}
