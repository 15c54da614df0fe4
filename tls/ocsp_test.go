package tls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/gantry-proxy/gantry/tls"
)

// ocspPKI is a CA, a leaf it issued and a key for responder certificates.
type ocspPKI struct {
	ca, leaf *x509.Certificate
	caKey    *ecdsa.PrivateKey
}

func newOCSPPKI(t testing.TB, leafExts ...pkix.Extension) *ocspPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ocsp test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtraExtensions: leafExts}
	der, err = x509.CreateCertificate(rand.Reader, leafTmpl, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &ocspPKI{ca: ca, leaf: leaf, caKey: caKey}
}

func (p *ocspPKI) response(t testing.TB, tmpl ocsp.Response, responder *x509.Certificate, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	if responder == nil {
		responder, key = p.ca, p.caKey
	} else {
		tmpl.Certificate = responder // delegated: sent along with the response
	}
	der, err := ocsp.CreateResponse(p.ca, responder, tmpl, key)
	require.NoError(t, err)
	return der
}

// responder issues a delegated responder certificate, with or without the
// OCSP signing usage.
func (p *ocspPKI) responder(t *testing.T, ocspSigning bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "responder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if ocspSigning {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c, key
}

func TestCheckOCSPResponse(t *testing.T) {
	p := newOCSPPKI(t)
	now := time.Now()
	good := ocsp.Response{Status: ocsp.Good, SerialNumber: p.leaf.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Minute)}
	delegated, dkey := p.responder(t, true)
	undelegated, ukey := p.responder(t, false)
	revoked := good
	revoked.Status, revoked.RevokedAt = ocsp.Revoked, now.Add(-time.Minute)
	unknown := good
	unknown.Status = ocsp.Unknown
	noNext := good
	noNext.NextUpdate = time.Time{}
	other := good
	other.SerialNumber = big.NewInt(43)

	tests := []struct {
		name string
		der  []byte
		want string // empty: accepted
	}{
		{"good", p.response(t, good, nil, nil), ""},
		{"delegated responder", p.response(t, good, delegated, dkey), ""},
		{"responder without OCSP signing", p.response(t, good, undelegated, ukey), "not authorised for OCSP signing"},
		{"revoked", p.response(t, revoked, nil, nil), "was revoked at"},
		{"unknown", p.response(t, unknown, nil, nil), "status unknown"},
		{"no NextUpdate", p.response(t, noNext, nil, nil), "no NextUpdate"},
		{"other serial", p.response(t, other, nil, nil), "no response matching"},
		{"garbage", []byte{0x30, 0x03, 0x0a, 0x01, 0x03}, "try later"},
		{"empty", nil, "empty OCSP response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tls.CheckOCSPResponse(tt.der, p.leaf, p.ca, now)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	der := p.response(t, good, nil, nil)
	_, err := tls.CheckOCSPResponse(der, p.leaf, p.ca, good.NextUpdate)
	assert.ErrorContains(t, err, "expired at", "NextUpdate itself is past")
	_, err = tls.CheckOCSPResponse(der, p.leaf, p.ca, good.ThisUpdate.Add(-time.Second))
	assert.ErrorContains(t, err, "not valid before")
	_, err = tls.CheckOCSPResponse(der, p.leaf, nil, now)
	assert.ErrorContains(t, err, "issuer is unknown")
}

func TestMustStaple(t *testing.T) {
	feature := func(features ...int) pkix.Extension {
		v, err := asn1.Marshal(features)
		require.NoError(t, err)
		return pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}, Value: v}
	}
	assert.True(t, tls.MustStaple(newOCSPPKI(t, feature(5)).leaf))
	assert.False(t, tls.MustStaple(newOCSPPKI(t, feature(17)).leaf), "status_request_v2 alone is not must-staple")
	assert.False(t, tls.MustStaple(newOCSPPKI(t).leaf))
}

func TestOCSPCheckText(t *testing.T) {
	for _, name := range []string{"off", "if-stapled", "require"} {
		var m tls.OCSPCheck
		require.NoError(t, m.UnmarshalText([]byte(name)))
		b, err := m.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, name, string(b))
	}
	var m tls.OCSPCheck
	assert.ErrorContains(t, m.UnmarshalText([]byte("on")), `unknown OCSP check "on"`)
	_, err := tls.OCSPCheck(9).MarshalText()
	assert.Error(t, err)
	cfg := tls.ClientConfig{OCSP: 9}
	assert.ErrorContains(t, cfg.Validate(), "ocsp")
}

// FuzzCheckOCSPResponse: whatever a server staples, checking it is an
// error or a Good response for the leaf, never a panic.
func FuzzCheckOCSPResponse(f *testing.F) {
	p := newOCSPPKI(f)
	now := time.Now()
	f.Add(p.response(f, ocsp.Response{Status: ocsp.Good, SerialNumber: p.leaf.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}, nil, nil))
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, err := tls.CheckOCSPResponse(der, p.leaf, p.ca, now)
		if err == nil {
			assert.Equal(t, ocsp.Good, resp.Status)
			assert.Equal(t, 0, resp.SerialNumber.Cmp(p.leaf.SerialNumber))
		}
	})
}
