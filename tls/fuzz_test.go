package tls_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// FuzzParseCertificatePEM feeds certificate and key files an operator (or an
// attacker with write access to a reload directory) could supply. Whatever
// the bytes, parsing must not panic, and a success must be a usable pair:
// a parsed leaf that is the first block, and a key that belongs to it.
func FuzzParseCertificatePEM(f *testing.F) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(f, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(f, err)

	ca, caKey := fuzzSelfSigned(f, ecKey)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	leaf := fuzzIssue(f, ca, caKey, leafKey.Public())

	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(f, err)
		return pemBlock("PRIVATE KEY", der)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(f, err)

	ecCert, _ := fuzzSelfSigned(f, ecKey)
	rsaCert, _ := fuzzSelfSigned(f, rsaKey)
	edCert, _ := fuzzSelfSigned(f, edKey)
	seeds := []struct{ cert, key []byte }{
		{pemBlock("CERTIFICATE", ecCert.Raw), pkcs8(ecKey)},
		{pemBlock("CERTIFICATE", ecCert.Raw), pemBlock("EC PRIVATE KEY", sec1)},
		{pemBlock("CERTIFICATE", rsaCert.Raw), pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))},
		{pemBlock("CERTIFICATE", edCert.Raw), pkcs8(edKey)},
		// A chain, leaf first, and a key file with a parameters block first.
		{append(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("CERTIFICATE", ca.Raw)...),
			append(pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), pkcs8(leafKey)...)},
		// A key that does not match its certificate.
		{pemBlock("CERTIFICATE", rsaCert.Raw), pkcs8(ecKey)},
		{nil, nil},
	}
	for _, s := range seeds {
		f.Add(s.cert, s.key)
	}

	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, err := tls.ParseCertificatePEM(certPEM, keyPEM)
		if err != nil {
			assert.Empty(t, c.Chain, "a failed parse returns no chain")
			return
		}
		require.NotNil(t, c.Leaf)
		require.NotEmpty(t, c.Chain)
		assert.Equal(t, c.Chain[0], c.Leaf.Raw, "the leaf is the first CERTIFICATE block")
		type equaler interface{ Equal(crypto.PublicKey) bool }
		pub, ok := c.Key.Public().(equaler)
		require.True(t, ok, "key type %T", c.Key)
		assert.True(t, pub.Equal(c.Leaf.PublicKey), "the key belongs to the leaf")

		// The CA-file reader must agree on which blocks are certificates.
		all, err := tls.ParseCertificatesPEM(certPEM)
		require.NoError(t, err, "ParseCertificatesPEM refuses what ParseCertificatePEM accepted")
		assert.Len(t, all, len(c.Chain))
	})
}

// FuzzPeerVerify feeds the one verifier every backend calls with peer
// certificates, which are the adversary's bytes. Whatever they are, it must
// not panic, a refusal must be a *tls.VerifyError (so each backend can map it
// to an alert), and an acceptance must be a chain from the presented leaf to
// the configured root that is valid for the name asked for.
func FuzzPeerVerify(f *testing.F) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	ca, _ := fuzzSelfSigned(f, caKey)
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	inter := fuzzIssueCA(f, ca, caKey, interKey)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	direct := fuzzIssue(f, ca, caKey, leafKey.Public())
	viaInter := fuzzIssue(f, inter, interKey, leafKey.Public())

	v := tls.NewServerVerifier(&tls.ClientConfig{RootCAs: []*x509.Certificate{ca}})
	f.Add(direct.Raw, []byte(nil), "fuzz.test")
	f.Add(viaInter.Raw, inter.Raw, "fuzz.test")
	f.Add(direct.Raw, []byte(nil), "other.test")
	f.Add(viaInter.Raw, []byte(nil), "fuzz.test")
	f.Add(ca.Raw, []byte(nil), "fuzz-ca.test")
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte(nil), "")

	f.Fuzz(func(t *testing.T, leaf, intermediate []byte, serverName string) {
		raw := [][]byte{leaf}
		if len(intermediate) > 0 {
			raw = append(raw, intermediate)
		}
		certs, chains, err := v.Verify(raw, serverName)
		if err != nil {
			var ve *tls.VerifyError
			assert.ErrorAs(t, err, &ve, "a refusal is not a *tls.VerifyError")
			assert.Nil(t, chains)
			return
		}
		require.Len(t, certs, len(raw))
		require.NotEmpty(t, chains, "accepted without a verified chain")
		for _, chain := range chains {
			require.NotEmpty(t, chain)
			assert.Equal(t, leaf, chain[0].Raw, "a chain that does not start at the presented leaf")
			assert.True(t, chain[len(chain)-1].Equal(ca), "a chain that does not end at the configured root")
		}
		assert.NoError(t, certs[0].VerifyHostname(strings.Trim(serverName, "[]")), "accepted for a name the leaf does not carry")
	})
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func fuzzTemplate(tb testing.TB, cn string, isCA bool) *x509.Certificate {
	tb.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(tb, err)
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              []string{cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
}

func fuzzSelfSigned(tb testing.TB, key crypto.Signer) (*x509.Certificate, crypto.Signer) {
	tb.Helper()
	tmpl := fuzzTemplate(tb, "fuzz-ca.test", true)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return cert, key
}

func fuzzIssueCA(tb testing.TB, ca *x509.Certificate, caKey, key crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, fuzzTemplate(tb, "fuzz-intermediate.test", true), ca, key.Public(), caKey)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return cert
}

func fuzzIssue(tb testing.TB, ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, fuzzTemplate(tb, "fuzz.test", false), ca, pub, caKey)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return cert
}
