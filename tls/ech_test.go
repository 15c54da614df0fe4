package tls_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// newECHKey makes an X25519 key and a config for publicName.
func newECHKey(t testing.TB, id uint8, publicName string) tls.ECHKey {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	c := tls.ECHConfig{
		ConfigID:  id,
		KEM:       tls.HPKEKEMX25519,
		PublicKey: priv.PublicKey().Bytes(),
		CipherSuites: []tls.ECHCipherSuite{
			{KDF: tls.HPKEKDFSHA256, AEAD: tls.HPKEAEADAES128GCM},
			{KDF: tls.HPKEKDFSHA256, AEAD: tls.HPKEAEADChaCha20Poly1305},
		},
		PublicName: publicName,
	}
	raw, err := c.Marshal()
	require.NoError(t, err)
	return tls.ECHKey{Config: raw, PrivateKey: priv.Bytes(), SendAsRetry: true}
}

// TestECHConfigEncoding pins the wire layout against a config written out
// by hand, field by field, and reads it back.
func TestECHConfigEncoding(t *testing.T) {
	pub := bytes.Repeat([]byte{0xab}, 32)
	c := tls.ECHConfig{
		ConfigID:      0x2a,
		KEM:           tls.HPKEKEMX25519,
		PublicKey:     pub,
		CipherSuites:  []tls.ECHCipherSuite{{KDF: 1, AEAD: 1}, {KDF: 1, AEAD: 3}},
		MaxNameLength: 64,
		PublicName:    "ech.example.com",
		Extensions:    []tls.ECHExtension{{Type: 0x1234, Data: []byte{9}}},
	}
	raw, err := c.Marshal()
	require.NoError(t, err)
	want := "fe0d" + "0047" + // version, length of what follows
		"2a" + "0020" + "0020" + hex.EncodeToString(pub) + // config_id, kem_id, public_key
		"0008" + "00010001" + "00010003" + // cipher_suites
		"40" + "0f" + hex.EncodeToString([]byte("ech.example.com")) + // maximum_name_length, public_name
		"0005" + "1234" + "0001" + "09" // extensions
	assert.Equal(t, want, hex.EncodeToString(raw))

	back, err := tls.ParseECHConfig(raw)
	require.NoError(t, err)
	assert.Equal(t, c, back)

	list, err := tls.MarshalECHConfigList(raw, raw)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, byte(2 * len(raw))}, list[:2])
	split, err := tls.SplitECHConfigList(list)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{raw, raw}, split)
}

func TestECHConfigRefused(t *testing.T) {
	good := newECHKey(t, 1, "ech.example.com").Config
	tests := []struct {
		name    string
		raw     []byte
		wantErr string
	}{
		{"Truncated", good[:len(good)-1], "truncated"},
		{"Trailing", append(bytes.Clone(good), 0), "trailing"},
		{"OtherVersion", append([]byte{0xfe, 0x0a}, good[2:]...), "version 0xfe0a"},
		{"OtherKEM", append(append(bytes.Clone(good[:5]), 0x00, 0x10), good[7:]...), "KEM 0x0010"},
		{"Empty", nil, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tls.ParseECHConfig(tt.raw)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
	for _, bad := range [][]byte{nil, {0, 0}, {0, 5, 0xfe, 0x0d}, {0, 3, 0xfe, 0x0d, 0, 0}} {
		_, err := tls.SplitECHConfigList(bad)
		assert.Error(t, err, "%x", bad)
	}
}

func TestECHPublicName(t *testing.T) {
	for _, ok := range []string{"ech.example.com", "a.b", "x-1.example", "Public.Example"} {
		assert.NoError(t, tls.CheckECHPublicName(ok), ok)
	}
	for _, bad := range []string{"", "localhost", "192.0.2.1", "::1", "a..b", "-a.example", "a-.example",
		"a_b.example", "example.123", "example.0x1f", "ech.example.com."} {
		assert.Error(t, tls.CheckECHPublicName(bad), bad)
	}
	_, err := (&tls.ECHConfig{KEM: tls.HPKEKEMX25519, PublicKey: make([]byte, 32),
		CipherSuites: []tls.ECHCipherSuite{{KDF: 1, AEAD: 1}}, PublicName: "localhost"}).Marshal()
	assert.ErrorContains(t, err, "single label")
}

// TestServerConfigECH: a key must be sound, its public name covered by a
// certificate, and the backend able to serve it.
func TestServerConfigECH(t *testing.T) {
	p := tlstest.NewPKI(t)
	certs := []tls.Certificate{p.ServerRSA, p.ServerECDSA}
	good := newECHKey(t, 1, tlstest.NameECDSA)
	other := newECHKey(t, 2, tlstest.NameECDSA)
	mismatched := tls.ECHKey{Config: good.Config, PrivateKey: other.PrivateKey}
	tests := []struct {
		name    string
		keys    []tls.ECHKey
		wantErr string
	}{
		{"Covered", []tls.ECHKey{good, other}, ""},
		{"Uncovered", []tls.ECHKey{good, newECHKey(t, 3, "nobody.example")}, `ech.keys[1]: ECH key 1: no certificate covers its public name "nobody.example"`},
		{"Mismatched", []tls.ECHKey{mismatched}, "ech.keys[0]: ECH key 0: the private key does not match"},
		{"ShortKey", []tls.ECHKey{{Config: good.Config, PrivateKey: good.PrivateKey[:31]}}, "not an X25519 key"},
		{"BadConfig", []tls.ECHKey{{Config: good.Config[:10], PrivateKey: good.PrivateKey}}, "ech.keys[0]: ECH key 0: ECH config: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.ServerConfig{Certificates: certs, ECHKeys: tt.keys}
			err := cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), hex.EncodeToString(tt.keys[0].PrivateKey))
		})
	}

	cfg := &tls.ServerConfig{Certificates: certs, ECHKeys: []tls.ECHKey{good}}
	caps := allCaps()
	_, err := cfg.Params(caps)
	assert.ErrorContains(t, err, "ech.keys: this backend has no server-side ECH (Encrypted ClientHello) here; use backend gostd")
	caps.ServerECH = true
	_, err = cfg.Params(caps)
	assert.NoError(t, err)
	_, err = (&tls.ServerConfig{Certificates: certs}).Params(allCaps())
	assert.NoError(t, err, "no keys, no capability needed")
}

// FuzzParseECHConfig: whatever the bytes, parsing does not panic, and what
// parses marshals back to the same bytes.
func FuzzParseECHConfig(f *testing.F) {
	f.Add(newECHKey(f, 7, "ech.example.com").Config)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if list, err := tls.SplitECHConfigList(raw); err == nil {
			for _, c := range list {
				_, _ = tls.ParseECHConfig(c)
			}
		}
		c, err := tls.ParseECHConfig(raw)
		if err != nil {
			return
		}
		back, err := c.Marshal()
		require.NoError(t, err)
		assert.Equal(t, raw, back)
	})
}
