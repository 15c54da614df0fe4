package tls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func ctLog(t testing.TB, name string) *tlstest.CTLog {
	t.Helper()
	l, err := tlstest.NewCTLog(name)
	require.NoError(t, err)
	return l
}

// TestCTPolicyValidate: every bad policy is refused by Validate at its
// field, before any backend.
func TestCTPolicyValidate(t *testing.T) {
	a, b := ctLog(t, "a"), ctLog(t, "b")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(p384.Public())
	require.NoError(t, err)
	p384Key := base64.StdEncoding.EncodeToString(der)
	for _, tt := range []struct {
		name        string
		policy      tls.CTPolicy
		field, want string
	}{
		{"no logs", tls.CTPolicy{}, "ct.logs", "at least one log"},
		{"negative", tls.CTPolicy{MinSCTs: -1, Logs: []tls.CTLog{a.Config()}}, "ct.min_scts", "negative"},
		{"more than logs", tls.CTPolicy{MinSCTs: 2, Logs: []tls.CTLog{a.Config()}}, "ct.min_scts", "only 1 logs are configured"},
		{"no name", tls.CTPolicy{Logs: []tls.CTLog{{Key: a.PublicKeyBase64()}}}, "ct.logs[0].name", "no name"},
		{"same name", tls.CTPolicy{Logs: []tls.CTLog{a.Config(), {Name: "a", Key: b.PublicKeyBase64()}}}, "ct.logs[1].name", "used twice"},
		{"same key", tls.CTPolicy{Logs: []tls.CTLog{a.Config(), {Name: "b", Key: a.PublicKeyBase64()}}}, "ct.logs[1].key", `same key as log "a"`},
		{"no key", tls.CTPolicy{Logs: []tls.CTLog{{Name: "a"}}}, "ct.logs[0].key", "no key"},
		{"not base64", tls.CTPolicy{Logs: []tls.CTLog{{Name: "a", Key: "%%%"}}}, "ct.logs[0].key", "neither PEM nor base64"},
		{"not a key", tls.CTPolicy{Logs: []tls.CTLog{{Name: "a", Key: "aGVsbG8="}}}, "ct.logs[0].key", "not a DER SubjectPublicKeyInfo"},
		{"P-384", tls.CTPolicy{Logs: []tls.CTLog{{Name: "a", Key: p384Key}}}, "ct.logs[0].key", "not on P-256"},
		{"PEM of another type", tls.CTPolicy{Logs: []tls.CTLog{{Name: "a", Key: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}}, "ct.logs[0].key", `PEM "CERTIFICATE" block`},
		{"from a file", tls.CTPolicy{Logs: []tls.CTLog{{Name: "a", KeyFile: "a.pem", Key: "%%%"}}}, "ct.logs[0].key_file", "neither PEM nor base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tls.ClientConfig{CT: &tt.policy}
			err := cfg.Validate()
			var fe *tls.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
			assert.Contains(t, fe.Err.Error(), tt.want)
		})
	}
	good := tls.ClientConfig{CT: &tls.CTPolicy{Logs: []tls.CTLog{a.Config(), {Name: "b", Key: string(b.PublicKeyPEM())}}}}
	assert.NoError(t, good.Validate(), "base64 and PEM keys")
}

// TestVerifySCTs drives the verifier alone: the default minimum, and the
// precertificate rebuilt from the verified chain's issuer.
func TestVerifySCTs(t *testing.T) {
	p := tlstest.NewPKI(t)
	a, b := ctLog(t, "a"), ctLog(t, "b")
	leaf := p.ServerECDSA
	sctA, err := a.SCTForCert(leaf.Chain[0])
	require.NoError(t, err)
	sctB, err := b.SCTForCert(leaf.Chain[0])
	require.NoError(t, err)
	v := tls.NewServerVerifier(&tls.ClientConfig{RootCAs: p.Roots(), CT: &tls.CTPolicy{Logs: []tls.CTLog{a.Config(), b.Config()}}})
	require.True(t, v.ChecksSCTs())
	certs, chains, err := v.Verify(leaf.Chain, tlstest.NameECDSA)
	require.NoError(t, err)

	// The default minimum is two with two logs.
	err = v.VerifySCTs(certs, chains, [][]byte{sctA}, nil)
	var cterr *tls.CTError
	require.ErrorAs(t, err, &cterr)
	assert.Equal(t, 2, cterr.Required)
	assert.NoError(t, v.VerifySCTs(certs, chains, [][]byte{sctA, sctB}, nil))
	assert.Contains(t, v.VerifySCTs(certs, chains, [][]byte{[]byte("junk")}, nil).Error(), "tls extension: malformed SCT")

	// An embedded SCT needs the issuer: from the verified chain, or else
	// sent by the server.
	emb, err := p.LeafWithEmbeddedSCTs([]string{tlstest.NameECDSA}, a, b)
	require.NoError(t, err)
	certs, chains, err = v.Verify(emb.Chain, tlstest.NameECDSA)
	require.NoError(t, err)
	assert.NoError(t, v.VerifySCTs(certs, chains, nil, nil))
	err = v.VerifySCTs(certs, nil, nil, nil)
	require.ErrorAs(t, err, &cterr)
	assert.Contains(t, err.Error(), "no issuer certificate to rebuild the precertificate")
	assert.NoError(t, v.VerifySCTs(append(certs, p.ECDSACA), nil, nil, nil), "issuer sent, chain unverified")

	off := tls.NewServerVerifier(&tls.ClientConfig{RootCAs: p.Roots()})
	assert.False(t, off.ChecksSCTs())
	assert.NoError(t, off.VerifySCTs(certs, chains, nil, nil))
}

func TestSCTListRoundTrip(t *testing.T) {
	scts := [][]byte{[]byte("one"), []byte("two, longer")}
	list, err := tls.JoinSCTList(scts)
	require.NoError(t, err)
	back, err := tls.SplitSCTList(list)
	require.NoError(t, err)
	assert.Equal(t, scts, back)
	for _, bad := range [][]byte{nil, {0, 0}, {0, 5, 0, 1}, append(list, 0)} {
		_, err := tls.SplitSCTList(bad)
		assert.Error(t, err, "%x", bad)
	}
	assert.ErrorContains(t, tls.CheckSCTs(scts), "SCT 0 is malformed")
	assert.ErrorContains(t, tls.CheckSCTs(nil), "empty")
}

// TestServedSCTsValidated: a server certificate's SCTs are checked by
// Validate, at the certificate's field.
func TestServedSCTsValidated(t *testing.T) {
	p := tlstest.NewPKI(t)
	cert := p.ServerECDSA
	cert.SCTs = [][]byte{[]byte("not an SCT")}
	err := (&tls.ServerConfig{Certificates: []tls.Certificate{cert}}).Validate()
	var fe *tls.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "certificates[0].scts", fe.Field)
	sct, err := ctLog(t, "a").SCTForCert(cert.Chain[0])
	require.NoError(t, err)
	cert.SCTs = [][]byte{sct}
	assert.NoError(t, (&tls.ServerConfig{Certificates: []tls.Certificate{cert}}).Validate())
}

// FuzzVerifySCTs: whatever a server sends as SCTs and OCSP staple, the
// policy refuses it with a *CTError and never panics.
func FuzzVerifySCTs(f *testing.F) {
	p := tlstest.NewPKI(f)
	a := ctLog(f, "a")
	good, err := a.SCTForCert(p.ServerECDSA.Chain[0])
	require.NoError(f, err)
	f.Add(good[:len(good)-1], []byte{})
	f.Add([]byte{0, 1, 2}, []byte{0x30, 0x03, 0x0a, 0x01, 0x00})
	v := tls.NewServerVerifier(&tls.ClientConfig{RootCAs: p.Roots(), CT: &tls.CTPolicy{Logs: []tls.CTLog{a.Config()}}})
	certs, chains, err := v.Verify(p.ServerECDSA.Chain, tlstest.NameECDSA)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, sct, staple []byte) {
		err := v.VerifySCTs(certs, chains, [][]byte{sct}, staple)
		if err == nil {
			return // the fuzzer found a valid signature: fine
		}
		var cterr *tls.CTError
		if !errors.As(err, &cterr) {
			t.Fatalf("not a CTError: %v", err)
		}
		if strings.Contains(err.Error(), "\x00") {
			t.Fatalf("raw bytes in the error: %q", err)
		}
	})
}
