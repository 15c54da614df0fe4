package tlstest

import (
	"crypto/ecdh"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// echCases: a backend whose Capabilities have ServerECH decrypts
// Encrypted ClientHello with every key, serves the inner name, and answers
// a config it cannot decrypt with the retry keys' configs; one without it
// refuses ECH keys at NewServer, at the ech.keys field, rather than serve
// without ECH.
func echCases() []testCase {
	return []testCase{
		{"Keys", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			current := newECHKey(t, 1, NameRSA, true)
			previous := newECHKey(t, 2, NameRSA, false)
			cfg := &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerRSA, p.ServerECDSA}, ECHKeys: []tls.ECHKey{current, previous}}
			if !b.Capabilities().ServerECH {
				_, err := b.NewServer(cfg)
				var fe *tls.FieldError
				require.True(t, errors.As(err, &fe), "%s: NewServer with ECH keys: %v", b.Name(), err)
				assert.Equal(t, "ech.keys", fe.Field)
				assert.ErrorContains(t, err, "no server-side ECH")
				return
			}
			s := newServer(t, b, cfg)
			for name, key := range map[string]tls.ECHKey{"current": current, "previous": previous} {
				r, err := echExchange(t, s, p, NameECDSA, echList(t, key))
				require.NoError(t, err, name)
				assert.True(t, r.Client.ECHAccepted, name)
				assert.True(t, r.Server.ECHAccepted, name)
				assert.Equal(t, NameECDSA, r.Server.ServerName, "%s: the server saw the inner name", name)
				assert.Equal(t, p.ServerECDSA.Chain[0], r.Client.PeerCertificates[0].Raw, "%s: the inner name chose the certificate", name)
			}

			_, err := echExchange(t, s, p, NameECDSA, echList(t, newECHKey(t, 3, NameRSA, true)))
			var rejected *stdtls.ECHRejectionError
			require.True(t, errors.As(err, &rejected), "an unknown config is rejected; got %v", err)
			assert.Equal(t, echList(t, current), rejected.RetryConfigList, "only keys with SendAsRetry are offered")
			r, err := echExchange(t, s, p, NameECDSA, rejected.RetryConfigList)
			require.NoError(t, err, "the retry with the configs the server sent")
			assert.True(t, r.Client.ECHAccepted)

			// ECH does not change what clients without it get: TLS 1.2 under
			// the default policy.
			srvErr, cliErr := rawVsServer(t, s, &stdtls.Config{RootCAs: echRoots(p), ServerName: NameECDSA, MaxVersion: stdtls.VersionTLS12}) // #nosec G402 -- a TLS 1.2 client on purpose: the policy must still let it in
			require.NoError(t, srvErr)
			require.NoError(t, cliErr)
		}},
	}
}

func newECHKey(t testing.TB, id uint8, publicName string, retry bool) tls.ECHKey {
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

func echList(t testing.TB, keys ...tls.ECHKey) []byte {
	t.Helper()
	raws := make([][]byte, len(keys))
	for i, k := range keys {
		raws[i] = k.Config
	}
	list, err := tls.MarshalECHConfigList(raws...)
	require.NoError(t, err)
	return list
}

func echRoots(p *PKI) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, r := range p.Roots() {
		pool.AddCert(r)
	}
	return pool
}

// echExchange runs a crypto/tls client offering ECH with list for name
// against s; the error is the client's, else the server's.
func echExchange(t testing.TB, s tls.Server, p *PKI, name string, list []byte) (Result, error) {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	sc := s.Server(srvRaw)
	cc := stdtls.Client(cliRaw, &stdtls.Config{RootCAs: echRoots(p), ServerName: name, EncryptedClientHelloConfigList: list})
	defer sc.Close()
	defer cc.Close()
	var r Result
	r.ServerErr, r.ClientErr = runPair(sc, cc)
	r.Server, r.Client = sc.ConnectionState(), cc.ConnectionState()
	if r.ClientErr != nil {
		return r, r.ClientErr
	}
	return r, r.ServerErr
}
