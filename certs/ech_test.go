package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

const echPublicName = "public.example"

func newTestECHKey(t *testing.T, id uint8) gantrytls.ECHKey {
	t.Helper()
	k, err := NewECHKey(ECHKeyOptions{PublicName: echPublicName, ConfigID: id, MaxNameLength: 32})
	require.NoError(t, err)
	return k
}

// stdECH handshakes a crypto/tls client offering ECH with list against a
// crypto/tls server holding keys, and returns the client's state.
func stdECH(t *testing.T, keys []stdtls.EncryptedClientHelloKey, list []byte) (stdtls.ConnectionState, error) {
	t.Helper()
	ca, err := NewDevCA()
	require.NoError(t, err)
	leaf, err := ca.IssueServer(echPublicName, "secret.example")
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	srvRaw, cliRaw := tcpPair(t)
	srv := stdtls.Server(srvRaw, &stdtls.Config{
		Certificates:             []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}},
		EncryptedClientHelloKeys: keys,
	})
	go func() { _ = srv.HandshakeContext(context.Background()); _ = srv.Close() }()
	cl := stdtls.Client(cliRaw, &stdtls.Config{RootCAs: roots, ServerName: "secret.example", EncryptedClientHelloConfigList: list})
	defer cl.Close()
	if err := cl.HandshakeContext(context.Background()); err != nil {
		return stdtls.ConnectionState{}, err
	}
	return cl.ConnectionState(), nil
}

// TestECHKeyFile: what NewECHKey makes is written as two PEM blocks, 0600,
// reads back the same, and crypto/tls takes it as an
// EncryptedClientHelloKey that a client offering its config gets through.
func TestECHKeyFile(t *testing.T) {
	k := newTestECHKey(t, 9)
	conf, err := gantrytls.ParseECHConfig(k.Config)
	require.NoError(t, err)
	assert.Equal(t, uint8(9), conf.ConfigID)
	assert.Equal(t, echPublicName, conf.PublicName)
	assert.Equal(t, uint8(32), conf.MaxNameLength)
	assert.Equal(t, gantrytls.HPKEKEMX25519, conf.KEM)
	assert.Equal(t, []gantrytls.ECHCipherSuite{{KDF: 1, AEAD: 1}, {KDF: 1, AEAD: 3}}, conf.CipherSuites)

	f := newFixture(t)
	path := f.path("ech.pem")
	require.NoError(t, WriteECHKeyFile(path, k))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	keyBlock, rest := pem.Decode(data)
	require.NotNil(t, keyBlock)
	assert.Equal(t, "PRIVATE KEY", keyBlock.Type)
	confBlock, _ := pem.Decode(rest)
	require.NotNil(t, confBlock)
	assert.Equal(t, "ECHCONFIG", confBlock.Type)
	list, err := ECHConfigListBase64(k)
	require.NoError(t, err)
	assert.Equal(t, list, base64.StdEncoding.EncodeToString(confBlock.Bytes), "the block is the published list")

	back, err := LoadECHKey(path)
	require.NoError(t, err)
	assert.Equal(t, k.Config, back.Config)
	assert.Equal(t, k.PrivateKey, back.PrivateKey)
	assert.False(t, back.SendAsRetry, "retry is the server's choice, not the file's")

	rawList, err := base64.StdEncoding.DecodeString(list)
	require.NoError(t, err)
	state, err := stdECH(t, []stdtls.EncryptedClientHelloKey{{Config: back.Config, PrivateKey: back.PrivateKey, SendAsRetry: true}}, rawList)
	require.NoError(t, err)
	assert.True(t, state.ECHAccepted)
	assert.Equal(t, "secret.example", state.ServerName)

	// A key crypto/tls does not know the config of is rejected with the
	// retry list, which carries the file's config.
	stale := newTestECHKey(t, 10)
	staleList, err := gantrytls.MarshalECHConfigList(stale.Config)
	require.NoError(t, err)
	_, err = stdECH(t, []stdtls.EncryptedClientHelloKey{{Config: back.Config, PrivateKey: back.PrivateKey, SendAsRetry: true}}, staleList)
	var rejected *stdtls.ECHRejectionError
	require.True(t, errors.As(err, &rejected), "got %v", err)
	assert.Equal(t, rawList, rejected.RetryConfigList)
}

func TestECHKeyFileRefused(t *testing.T) {
	k := newTestECHKey(t, 1)
	other := newTestECHKey(t, 2)
	good, err := MarshalECHKeyPEM(k)
	require.NoError(t, err)
	otherPEM, err := MarshalECHKeyPEM(other)
	require.NoError(t, err)
	keyOf := func(b []byte) []byte { blk, _ := pem.Decode(b); return pem.EncodeToMemory(blk) }
	confOf := func(b []byte) []byte { _, rest := pem.Decode(b); return rest }
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	twoConfigs, err := gantrytls.MarshalECHConfigList(k.Config, other.Config)
	require.NoError(t, err)

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"Empty", nil, "needs a private key block and an ECHCONFIG block"},
		{"KeyOnly", keyOf(good), "needs a private key block and an ECHCONFIG block"},
		{"ConfigOnly", confOf(good), "needs a private key block"},
		{"Mismatched", append(keyOf(good), confOf(otherPEM)...), "does not match the ECHCONFIG's public key (config id 2"},
		{"NotX25519", append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), confOf(good)...), "not an X25519 key"},
		{"TwoConfigs", append(keyOf(good), pem.EncodeToMemory(&pem.Block{Type: "ECHCONFIG", Bytes: twoConfigs})...), "holds 2 configs"},
		{"BadList", append(keyOf(good), pem.EncodeToMemory(&pem.Block{Type: "ECHCONFIG", Bytes: []byte{1, 2, 3}})...), "not an ECHConfigList"},
		{"TwoKeys", append(keyOf(good), good...), "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseECHKeyPEM(tt.data)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "PRIVATE KEY")
			assert.NotContains(t, err.Error(), hex.EncodeToString(k.PrivateKey))
		})
	}
}

// TestServerFilesECH: keys load guarded, in order, the first (or with all,
// every one) marked as retry config; problems are placed at their key.
func TestServerFilesECH(t *testing.T) {
	f := newFixture(t)
	_, kp := f.server("srv")
	first, second := newTestECHKey(t, 1), newTestECHKey(t, 2)
	require.NoError(t, WriteECHKeyFile(f.path("ech1.pem"), first))
	require.NoError(t, WriteECHKeyFile(f.path("ech2.pem"), second))
	files := ServerFiles{Certificates: []KeyPair{kp}, ECH: ECHFiles{Keys: []string{"ech1.pem", "ech2.pem"}}}.Resolve(f.dir)

	set, err := files.Load()
	require.NoError(t, err)
	require.Len(t, set.ECHKeys, 2)
	assert.Equal(t, first.Config, set.ECHKeys[0].Config)
	assert.Equal(t, second.Config, set.ECHKeys[1].Config)
	assert.Equal(t, []bool{true, false}, []bool{set.ECHKeys[0].SendAsRetry, set.ECHKeys[1].SendAsRetry})
	assert.Equal(t, set.ECHKeys, set.Apply(gantrytls.ServerConfig{}).ECHKeys)

	files.ECH.SendAsRetry = ECHRetryAll
	set, err = files.Load()
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, []bool{set.ECHKeys[0].SendAsRetry, set.ECHKeys[1].SendAsRetry})

	require.NoError(t, os.Chmod(f.path("ech2.pem"), 0o644))
	f.write("notech.pem", []byte("hello"))
	bad := files
	bad.ECH = ECHFiles{Keys: []string{f.path("ech2.pem"), "", f.path("missing.pem"), f.path("notech.pem")}, SendAsRetry: 7}
	_, err = bad.Load()
	assertFields(t, err, [][2]string{
		{"ech.send_as_retry", "invalid value 7"},
		{"ech.keys[0]", "is readable by group or others (mode 0644)"},
		{"ech.keys[1]", "is empty"},
		{"ech.keys[2]", "does not exist"},
		{"ech.keys[3]", "ECH key file " + f.path("notech.pem") + ": an ECH key file needs"},
	})

	bad.KeyGuard.Warn = true
	bad.ECH = ECHFiles{Keys: []string{f.path("ech2.pem")}}
	set, err = bad.Load()
	require.NoError(t, err)
	assert.Len(t, set.ECHKeys, 1)
	require.Len(t, set.Warnings, 1)
	assert.ErrorContains(t, set.Warnings[0], "ech.keys[0]: key file")

	var r ECHRetry
	require.NoError(t, r.UnmarshalText([]byte("all")))
	assert.Equal(t, ECHRetryAll, r)
	assert.ErrorContains(t, r.UnmarshalText([]byte("current")), `unknown send_as_retry "current" (want first or all)`)
}

// TestServerReloadECHKeys: a reload reads the ECH key files again, so a
// key put in their place serves from the next handshake on, on gostd.
func TestServerReloadECHKeys(t *testing.T) {
	f := newFixture(t)
	is, err := f.ca.IssueServer(echPublicName, "secret.example")
	require.NoError(t, err)
	kp := f.writePair("srv", is)
	old, next := newTestECHKey(t, 1), newTestECHKey(t, 2)
	require.NoError(t, WriteECHKeyFile(f.path("ech.pem"), old))
	b, err := gantrytls.Lookup("gostd")
	require.NoError(t, err)
	srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}, ECH: ECHFiles{Keys: []string{f.path("ech.pem")}}})
	require.NoError(t, err)
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(f.ca.Certificate())
	offer := func(k gantrytls.ECHKey) error {
		list, err := gantrytls.MarshalECHConfigList(k.Config)
		require.NoError(t, err)
		srvRaw, cliRaw := tcpPair(t)
		sc := srv.Server(srvRaw)
		go func() { _ = sc.HandshakeContext(context.Background()); _ = sc.Close() }()
		cl := stdtls.Client(cliRaw, &stdtls.Config{RootCAs: roots, ServerName: "secret.example", EncryptedClientHelloConfigList: list})
		defer cl.Close()
		if err := cl.HandshakeContext(context.Background()); err != nil {
			return err
		}
		if !cl.ConnectionState().ECHAccepted {
			return errors.New("ECH not accepted")
		}
		return nil
	}
	require.NoError(t, offer(old))
	require.NoError(t, WriteECHKeyFile(f.path("ech.pem"), next))
	require.NoError(t, srv.Reload())
	require.NoError(t, offer(next))
	var rejected *stdtls.ECHRejectionError
	assert.True(t, errors.As(offer(old), &rejected), "the replaced key no longer decrypts")
	nextList, err := gantrytls.MarshalECHConfigList(next.Config)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(nextList, rejected.RetryConfigList))
}
