package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

// Names the server certificates of a PKI are issued for.
const (
	NameECDSA     = "ecdsa.gantry.test" // ServerECDSA, also valid for "localhost" and 127.0.0.1
	NameRSA       = "rsa.gantry.test"
	NameOther     = "other.gantry.test"
	NameExpired   = "expired.gantry.test"
	NameUntrusted = "untrusted.gantry.test"
	NameChain     = "chain.gantry.test"
	NameWrong     = "wrong.gantry.test" // no certificate carries it
)

// PKI is a set of certificate authorities and leaves for tests. Every key
// and certificate is made in memory; nothing is written to disk.
type PKI struct {
	// ECDSACA and RSACA are the trusted roots; UntrustedCA is trusted by
	// nobody. Intermediate is issued by ECDSACA.
	ECDSACA, RSACA, UntrustedCA, Intermediate *x509.Certificate

	// Server leaves.
	ServerECDSA     tls.Certificate // P-256, NameECDSA, localhost, 127.0.0.1, ::1
	ServerRSA       tls.Certificate // RSA-2048, NameRSA
	ServerOther     tls.Certificate // P-256, NameOther
	ServerExpired   tls.Certificate // P-256, NameExpired, expired yesterday
	ServerUntrusted tls.Certificate // P-256, NameUntrusted, by UntrustedCA
	ServerChain     tls.Certificate // P-256, NameChain, by Intermediate, chain included

	// Client leaves.
	ClientECDSA     tls.Certificate // P-256, by ECDSACA
	ClientRSA       tls.Certificate // RSA-2048, by RSACA
	ClientUntrusted tls.Certificate // P-256, by UntrustedCA

	ecdsaCAKey crypto.Signer // ECDSACA's key, for certificates minted by cases
}

// issuerOfECDSACA signs certificates by ECDSACA for cases minted later
// (see LeafWithEmbeddedSCTs).
func (p *PKI) issuerOfECDSACA() *issuer { return &issuer{cert: p.ECDSACA, key: p.ecdsaCAKey} }

// Roots are the CAs a client or server of the suite trusts.
func (p *PKI) Roots() []*x509.Certificate { return []*x509.Certificate{p.ECDSACA, p.RSACA} }

var (
	pkiOnce sync.Once
	pkiVal  *PKI
	pkiErr  error
)

// NewPKI returns the process-wide test PKI, minting it on first use: RSA key
// generation is slow under the race detector, and the certificates are
// immutable, so every test shares one.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = mintPKI() })
	if pkiErr != nil {
		t.Fatalf("tlstest: mint PKI: %v", pkiErr)
	}
	return pkiVal
}

type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serial int64

func template(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Gantry tlstest"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
}

func newCA(cn string, key crypto.Signer, parent *issuer) (*issuer, error) {
	now := time.Now()
	tmpl := template(cn, now.Add(-time.Hour), now.Add(24*time.Hour))
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issuer{cert: cert, key: key}, nil
}

type leafSpec struct {
	cn       string
	dns      []string
	ips      []net.IP
	client   bool
	expired  bool
	key      crypto.Signer
	by       *issuer
	chainExt []*x509.Certificate // intermediates sent after the leaf
}

func newLeaf(s leafSpec) (tls.Certificate, error) {
	now := time.Now()
	notBefore, notAfter := now.Add(-time.Hour), now.Add(24*time.Hour)
	if s.expired {
		notBefore, notAfter = now.Add(-72*time.Hour), now.Add(-24*time.Hour)
	}
	tmpl := template(s.cn, notBefore, notAfter)
	tmpl.DNSNames = s.dns
	tmpl.IPAddresses = s.ips
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, isRSA := s.key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if s.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.by.cert, s.key.Public(), s.by.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create leaf %s: %w", s.cn, err)
	}
	chain := [][]byte{der}
	for _, c := range s.chainExt {
		chain = append(chain, c.Raw)
	}
	return tls.NewCertificate(chain, s.key)
}

func mintPKI() (*PKI, error) {
	ec := func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
	rsaCAKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	rsaLeafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keys := make([]crypto.Signer, 12)
	for i := range keys {
		if keys[i], err = ec(); err != nil {
			return nil, err
		}
	}

	ecdsaCA, err := newCA("Gantry tlstest ECDSA root", keys[0], nil)
	if err != nil {
		return nil, err
	}
	rsaCA, err := newCA("Gantry tlstest RSA root", rsaCAKey, nil)
	if err != nil {
		return nil, err
	}
	untrustedCA, err := newCA("Gantry tlstest untrusted root", keys[1], nil)
	if err != nil {
		return nil, err
	}
	inter, err := newCA("Gantry tlstest intermediate", keys[2], ecdsaCA)
	if err != nil {
		return nil, err
	}

	p := &PKI{ECDSACA: ecdsaCA.cert, RSACA: rsaCA.cert, UntrustedCA: untrustedCA.cert, Intermediate: inter.cert}
	p.ecdsaCAKey = ecdsaCA.key
	loopback := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	specs := []struct {
		dst  *tls.Certificate
		spec leafSpec
	}{
		{&p.ServerECDSA, leafSpec{cn: NameECDSA, dns: []string{NameECDSA, "localhost"}, ips: loopback, key: keys[3], by: ecdsaCA}},
		// Two RSA keys per process keep -race runs quick: the RSA server and
		// client leaves share one, which no test depends on being distinct.
		{&p.ServerRSA, leafSpec{cn: NameRSA, dns: []string{NameRSA}, key: rsaLeafKey, by: rsaCA}},
		{&p.ServerOther, leafSpec{cn: NameOther, dns: []string{NameOther}, key: keys[4], by: ecdsaCA}},
		{&p.ServerExpired, leafSpec{cn: NameExpired, dns: []string{NameExpired}, expired: true, key: keys[5], by: ecdsaCA}},
		{&p.ServerUntrusted, leafSpec{cn: NameUntrusted, dns: []string{NameUntrusted}, key: keys[6], by: untrustedCA}},
		{&p.ServerChain, leafSpec{cn: NameChain, dns: []string{NameChain}, key: keys[7], by: inter, chainExt: []*x509.Certificate{inter.cert}}},
		{&p.ClientECDSA, leafSpec{cn: "client-ecdsa", client: true, key: keys[8], by: ecdsaCA}},
		{&p.ClientRSA, leafSpec{cn: "client-rsa", client: true, key: rsaLeafKey, by: rsaCA}},
		{&p.ClientUntrusted, leafSpec{cn: "client-untrusted", client: true, key: keys[9], by: untrustedCA}},
	}
	for _, s := range specs {
		if *s.dst, err = newLeaf(s.spec); err != nil {
			return nil, err
		}
	}
	return p, nil
}
