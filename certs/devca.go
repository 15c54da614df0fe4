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

// DevCA is an in-memory development certificate authority.
type DevCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// Issued is a certificate issued by a DevCA with its private key.
type Issued struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewDevCA makes a fresh CA with an ECDSA P-256 key.
func NewDevCA() (*DevCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Gantry development CA (not for production)"},
			CommonName:   "Gantry Development CA " + serial.Text(16)[:8],
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Nothing below the CA may itself be a CA.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parse CA certificate: %w", err)
	}
	return &DevCA{cert: cert, key: key}, nil
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
	return &Issued{Cert: cert, Key: key}, nil
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

// CertPEM is the issued certificate in PEM (the leaf alone: the CA is the
// root clients trust, so it is not part of the served chain).
func (i *Issued) CertPEM() []byte { return certPEM(i.Cert) }

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
	return gantrytls.NewCertificate([][]byte{i.Cert.Raw}, i.Key)
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
