package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certFiles are the PEM files of one throwaway certificate. PEM holds the
// chain and the key together, as HAProxy wants them.
type certFiles struct {
	Cert, Key, PEM string
}

// makeCerts writes a self-signed ECDSA P-256 and an RSA-2048 certificate for
// localhost and 127.0.0.1 into dir. They are made fresh on every run and are
// never meant to outlive it.
func makeCerts(dir string) (ecdsaFiles, rsaFiles certFiles, err error) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return certFiles{}, certFiles{}, fmt.Errorf("bench: ECDSA key: %w", err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return certFiles{}, certFiles{}, fmt.Errorf("bench: RSA key: %w", err)
	}
	if ecdsaFiles, err = writeSelfSigned(dir, "ecdsa", ec); err != nil {
		return certFiles{}, certFiles{}, err
	}
	if rsaFiles, err = writeSelfSigned(dir, "rsa", rk); err != nil {
		return certFiles{}, certFiles{}, err
	}
	return ecdsaFiles, rsaFiles, nil
}

func writeSelfSigned(dir, name string, key crypto.Signer) (certFiles, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return certFiles{}, fmt.Errorf("bench: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return certFiles{}, fmt.Errorf("bench: %s certificate: %w", name, err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return certFiles{}, fmt.Errorf("bench: %s key: %w", name, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	f := certFiles{
		Cert: filepath.Join(dir, name+".crt"),
		Key:  filepath.Join(dir, name+".key"),
		PEM:  filepath.Join(dir, name+".pem"),
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.Cert, certPEM}, {f.Key, keyPEM}, {f.PEM, append(append([]byte{}, certPEM...), keyPEM...)}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return certFiles{}, fmt.Errorf("bench: write %s: %w", w.path, err)
		}
	}
	return f, nil
}
