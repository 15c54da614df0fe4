package tls_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func TestClientAuthModeNames(t *testing.T) {
	for _, m := range []tls.ClientAuthMode{tls.ClientAuthNone, tls.ClientAuthRequest, tls.ClientAuthRequire,
		tls.ClientAuthVerifyIfGiven, tls.ClientAuthRequireAndVerify} {
		back, err := tls.ParseClientAuthMode(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, back)
	}
	assert.Equal(t, "require-and-verify", tls.ClientAuthRequireAndVerify.String())
	assert.Equal(t, "ClientAuthMode(9)", tls.ClientAuthMode(9).String())
	_, err := tls.ParseClientAuthMode("optional")
	assert.ErrorContains(t, err, "unknown client auth mode")
}

func TestServerConfigValidate(t *testing.T) {
	p := tlstest.NewPKI(t)
	withLeafUnparsed := p.ServerECDSA
	withLeafUnparsed.Leaf = nil
	tests := []struct {
		name    string
		cfg     *tls.ServerConfig
		wantErr string
	}{
		{"Minimal", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}}, ""},
		{"LeafParsedOnDemand", &tls.ServerConfig{Certificates: []tls.Certificate{withLeafUnparsed}}, ""},
		{"Full", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA, p.ServerRSA}, Policy: "modern",
			CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}, Groups: []string{"X25519"}, ALPN: []string{"h2"},
			ClientAuth: tls.ClientAuthRequireAndVerify, ClientCAs: p.Roots(), HandshakeTimeout: time.Second}, ""},
		{"Nil", nil, "nil"},
		{"NoCertificate", &tls.ServerConfig{}, "no certificate"},
		{"EmptyChain", &tls.ServerConfig{Certificates: []tls.Certificate{{Key: p.ServerECDSA.Key}}}, "empty chain"},
		{"BadDER", &tls.ServerConfig{Certificates: []tls.Certificate{{Chain: [][]byte{{1, 2, 3}}, Key: p.ServerECDSA.Key}}}, "certificate 0"},
		{"MismatchedKeySecondCert", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA,
			{Chain: p.ServerRSA.Chain, Key: p.ServerECDSA.Key}}}, "certificate 1"},
		{"RequestNeedsNoCA", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}, ClientAuth: tls.ClientAuthRequire}, ""},
		{"VerifyNeedsCA", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}, ClientAuth: tls.ClientAuthRequireAndVerify}, "no client CA"},
		{"BadMode", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}, ClientAuth: -1}, "invalid client auth mode"},
		{"LongALPN", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}, ALPN: []string{string(make([]byte, 256))}}, "longer than 255"},
		{"NegativeTimeout", &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}, HandshakeTimeout: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
			assert.Regexp(t, "^tls: ", err.Error())
		})
	}
}

func TestClientConfigValidate(t *testing.T) {
	p := tlstest.NewPKI(t)
	tests := []struct {
		name    string
		cfg     *tls.ClientConfig
		wantErr string
	}{
		{"Zero", &tls.ClientConfig{}, ""},
		{"WithCertificate", &tls.ClientConfig{Certificate: &p.ClientECDSA, ALPN: []string{"h2", "http/1.1"}}, ""},
		{"Nil", nil, "nil"},
		{"EmptyClientChain", &tls.ClientConfig{Certificate: &tls.Certificate{Key: p.ClientECDSA.Key}}, "empty chain"},
		{"MismatchedClientKey", &tls.ClientConfig{Certificate: &tls.Certificate{Chain: p.ClientECDSA.Chain, Key: p.ClientRSA.Key}}, "does not match"},
		{"UnknownGroup", &tls.ClientConfig{Groups: []string{"brainpoolP256r1"}}, "unknown group"},
		{"NegativeCache", &tls.ClientConfig{SessionCacheSize: -5}, "cache"},
		{"NegativeTimeout", &tls.ClientConfig{HandshakeTimeout: -1}, "negative"},
		{"OddMaxVersion", &tls.ClientConfig{MaxVersion: 0x0302}, "max version"},
		{"MaxVersionUnderModern", &tls.ClientConfig{Policy: "modern", MaxVersion: tls.VersionTLS12}, "TLS 1.3 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDefaults(t *testing.T) {
	assert.Equal(t, tls.DefaultHandshakeTimeout, (&tls.ServerConfig{}).Timeout())
	assert.Equal(t, 3*time.Second, (&tls.ServerConfig{HandshakeTimeout: 3 * time.Second}).Timeout())
	assert.Equal(t, tls.DefaultHandshakeTimeout, (&tls.ClientConfig{}).Timeout())
	assert.Equal(t, 256, (&tls.ClientConfig{}).CacheSize())
	assert.Equal(t, 7, (&tls.ClientConfig{SessionCacheSize: 7}).CacheSize())
	assert.Positive(t, tls.DefaultHandshakeTimeout, "no handshake may wait forever")
}

func encodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseCertificatePEM(t *testing.T) {
	p := tlstest.NewPKI(t)
	ecKey := p.ServerECDSA.Key.(*ecdsa.PrivateKey)
	rsaKey := p.ServerRSA.Key.(*rsa.PrivateKey)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)
	chainPEM := append(encodePEM("CERTIFICATE", p.ServerChain.Chain[0]), encodePEM("CERTIFICATE", p.ServerChain.Chain[1])...)
	chainKey8, err := x509.MarshalPKCS8PrivateKey(p.ServerChain.Key)
	require.NoError(t, err)

	tests := []struct {
		name      string
		cert, key []byte
		chainLen  int
		wantErr   string
	}{
		{"PKCS8", encodePEM("CERTIFICATE", p.ServerECDSA.Chain[0]), encodePEM("PRIVATE KEY", pkcs8), 1, ""},
		{"SEC1", encodePEM("CERTIFICATE", p.ServerECDSA.Chain[0]), encodePEM("EC PRIVATE KEY", sec1), 1, ""},
		{"PKCS1", encodePEM("CERTIFICATE", p.ServerRSA.Chain[0]), encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), 1, ""},
		{"ChainAndSkippedBlocks", append(encodePEM("COMMENT", []byte("x")), chainPEM...),
			append(encodePEM("EC PARAMETERS", []byte{6, 8}), encodePEM("PRIVATE KEY", chainKey8)...), 2, ""},
		{"Mismatch", encodePEM("CERTIFICATE", p.ServerRSA.Chain[0]), encodePEM("PRIVATE KEY", pkcs8), 0, "does not match"},
		{"NoCertificate", []byte("nothing"), encodePEM("PRIVATE KEY", pkcs8), 0, "no CERTIFICATE"},
		{"NoKey", encodePEM("CERTIFICATE", p.ServerECDSA.Chain[0]), nil, 0, "no PRIVATE KEY"},
		{"CorruptKey", encodePEM("CERTIFICATE", p.ServerECDSA.Chain[0]), encodePEM("PRIVATE KEY", []byte{0x30, 0}), 0, "parse PRIVATE KEY"},
		{"CorruptChainEntry", append(encodePEM("CERTIFICATE", p.ServerECDSA.Chain[0]), encodePEM("CERTIFICATE", []byte{1})...),
			encodePEM("PRIVATE KEY", pkcs8), 0, "chain certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.ParseCertificatePEM(tt.cert, tt.key)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, c.Chain, tt.chainLen)
			require.NotNil(t, c.Leaf)
			assert.NotNil(t, c.Key)
		})
	}
}

func TestNewCertificateKeyTypes(t *testing.T) {
	p := tlstest.NewPKI(t)
	_, err := tls.NewCertificate(nil, p.ServerECDSA.Key)
	assert.ErrorContains(t, err, "empty")
	_, err = tls.NewCertificate(p.ServerECDSA.Chain, nil)
	assert.ErrorContains(t, err, "no private key")
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = tls.NewCertificate(p.ServerECDSA.Chain, edKey)
	assert.ErrorContains(t, err, "does not match", "an Ed25519 key is supported but must match")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, err = tls.NewCertificate(p.ServerECDSA.Chain, p384)
	assert.ErrorContains(t, err, "does not match")
	c, err := tls.NewCertificate(p.ServerECDSA.Chain, p.ServerECDSA.Key)
	require.NoError(t, err)
	assert.True(t, c.Leaf.Equal(p.ServerECDSA.Leaf))
}

// File loading is certs' (certs.LoadKeyPair, LoadCAs); tls parses.
func TestParseCertificatesPEM(t *testing.T) {
	p := tlstest.NewPKI(t)
	cas, err := tls.ParseCertificatesPEM(append(encodePEM("CERTIFICATE", p.ECDSACA.Raw), encodePEM("CERTIFICATE", p.RSACA.Raw)...))
	require.NoError(t, err)
	require.Len(t, cas, 2)
	assert.True(t, cas[1].Equal(p.RSACA))
	_, err = tls.ParseCertificatesPEM(nil)
	assert.ErrorContains(t, err, "no CERTIFICATE")
	_, err = tls.ParseCertificatesPEM(encodePEM("CERTIFICATE", []byte{9, 9}))
	assert.ErrorContains(t, err, "CA certificate 1")
}

// TestHalfWrittenPEMRefused: a bundle cut inside a later block is refused,
// not read as the blocks before the cut.
func TestHalfWrittenPEMRefused(t *testing.T) {
	p := tlstest.NewPKI(t)
	var bundle []byte
	for _, c := range p.Roots() {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	bundle = append(bundle, bundle...) // at least two blocks
	first := bytes.Index(bundle[1:], []byte("-----BEGIN")) + 1
	cut := bundle[:first+(len(bundle)-first)/2]
	_, err := tls.ParseCertificatesPEM(cut)
	require.ErrorContains(t, err, "cut short")
	all, err := tls.ParseCertificatesPEM(bundle)
	require.NoError(t, err)
	require.NotEmpty(t, all)

	der, err := x509.MarshalPKCS8PrivateKey(p.ServerECDSA.Key)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	var chain []byte
	for _, der := range p.ServerECDSA.Chain {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	chain = append(chain, chain...)
	_, err = tls.ParseCertificatePEM(chain[:len(chain)*3/4], keyPEM)
	require.ErrorContains(t, err, "cut short")
}
