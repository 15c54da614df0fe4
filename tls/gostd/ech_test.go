package gostd_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/gostd"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func echKey(t *testing.T, id uint8, publicName string, retry bool) tls.ECHKey {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	c := tls.ECHConfig{ConfigID: id, KEM: tls.HPKEKEMX25519, PublicKey: priv.PublicKey().Bytes(),
		CipherSuites: []tls.ECHCipherSuite{{KDF: tls.HPKEKDFSHA256, AEAD: tls.HPKEAEADAES128GCM}},
		PublicName:   publicName}
	raw, err := c.Marshal()
	require.NoError(t, err)
	return tls.ECHKey{Config: raw, PrivateKey: priv.Bytes(), SendAsRetry: retry}
}

func configList(t *testing.T, keys ...tls.ECHKey) []byte {
	t.Helper()
	var raws [][]byte
	for _, k := range keys {
		raws = append(raws, k.Config)
	}
	list, err := tls.MarshalECHConfigList(raws...)
	require.NoError(t, err)
	return list
}

// echHandshake runs a crypto/tls client offering ECH with list against s,
// and returns both sides' states and the client's error.
func echHandshake(t *testing.T, s tls.Server, roots *x509.CertPool, name string, list []byte) (client, server stdtls.ConnectionState, err error) {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	conn := s.Server(sc)
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if conn.HandshakeContext(context.Background()) == nil {
			server = conn.ConnectionState()
		}
		_ = conn.Close()
	}()
	c := stdtls.Client(cc, &stdtls.Config{RootCAs: roots, ServerName: name, EncryptedClientHelloConfigList: list})
	err = c.HandshakeContext(context.Background())
	if err == nil {
		client = c.ConnectionState()
	}
	_ = c.Close()
	<-done
	return client, server, err
}

// TestServerECH: every key decrypts and the inner name picks the
// certificate; a config no key knows is rejected with the retry keys'
// configs only, in the outer handshake for the public name, and the retry
// succeeds — also under the intermediate policy, whose TLS 1.2 stays for
// clients without ECH.
func TestServerECH(t *testing.T) {
	p := tlstest.NewPKI(t)
	roots := x509.NewCertPool()
	for _, r := range p.Roots() {
		roots.AddCert(r)
	}
	current := echKey(t, 1, tlstest.NameRSA, true)
	previous := echKey(t, 2, tlstest.NameRSA, false)
	stale := echKey(t, 3, tlstest.NameRSA, true)
	s, err := gostd.Backend().NewServer(&tls.ServerConfig{
		Certificates: []tls.Certificate{p.ServerRSA, p.ServerECDSA},
		ECHKeys:      []tls.ECHKey{current, previous},
	})
	require.NoError(t, err)
	defer s.Close()

	for name, key := range map[string]tls.ECHKey{"current": current, "previous": previous} {
		client, server, err := echHandshake(t, s, roots, tlstest.NameECDSA, configList(t, key))
		require.NoError(t, err, name)
		assert.True(t, client.ECHAccepted, name)
		assert.True(t, server.ECHAccepted, name)
		assert.Equal(t, tlstest.NameECDSA, server.ServerName, "%s: the server saw the inner name", name)
		assert.Equal(t, p.ServerECDSA.Chain[0], client.PeerCertificates[0].Raw, "%s: the inner name chose the certificate", name)
	}

	_, server, err := echHandshake(t, s, roots, tlstest.NameECDSA, configList(t, stale))
	var rejected *stdtls.ECHRejectionError
	require.True(t, errors.As(err, &rejected), "got %v", err)
	assert.Equal(t, configList(t, current), rejected.RetryConfigList, "only the keys marked SendAsRetry are offered")
	assert.False(t, server.ECHAccepted)

	client, _, err := echHandshake(t, s, roots, tlstest.NameECDSA, rejected.RetryConfigList)
	require.NoError(t, err)
	assert.True(t, client.ECHAccepted)

	// Without ECH the policy is untouched: TLS 1.2 still works.
	cc, sc := net.Pipe()
	go func() { _ = s.Server(sc).HandshakeContext(context.Background()); _ = sc.Close() }()
	plain := stdtls.Client(cc, &stdtls.Config{RootCAs: roots, ServerName: tlstest.NameECDSA, MaxVersion: stdtls.VersionTLS12})
	require.NoError(t, plain.Handshake())
	assert.Equal(t, uint16(stdtls.VersionTLS12), plain.ConnectionState().Version)
	_ = plain.Close()
}

func TestServerECHRefusedWithoutCertificate(t *testing.T) {
	p := tlstest.NewPKI(t)
	_, err := gostd.Backend().NewServer(&tls.ServerConfig{
		Certificates: []tls.Certificate{p.ServerECDSA},
		ECHKeys:      []tls.ECHKey{echKey(t, 1, "public.example", true)},
	})
	assert.ErrorContains(t, err, `no certificate covers its public name "public.example"`)
}
