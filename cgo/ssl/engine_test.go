//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// The engine on its own: two Conns stepped against each other in memory,
// with no network and nothing of Gantry (the fence imports none of it, its
// tests included). The pump above it is tested in tls/internal/sslconn.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned makes a certificate for name with its PKCS #8 key.
func selfSigned(t testing.TB, name string) CertKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return CertKey{Chain: [][]byte{der}, Key: pkcs8}
}

func newContext(t testing.TB, cfg *ContextConfig) *Context {
	t.Helper()
	if cfg.MinVersion == 0 {
		cfg.MinVersion, cfg.MaxVersion = 0x0303, 0x0304
	}
	if cfg.Groups == "" {
		cfg.Groups = "X25519:P-256"
	}
	ctx, err := NewContext(cfg)
	require.NoError(t, err)
	t.Cleanup(ctx.Close)
	return ctx
}

func accept([][]byte, error) uint8 { return 0 }

// run takes one step and every byte it leaves for the peer.
func run(c *Conn, f func(out []byte) Step) (Step, []byte) {
	out := make([]byte, 64<<10)
	st := f(out)
	sent := append([]byte(nil), out[:st.Out]...)
	for more := st.More; more; {
		d := c.Drain(out)
		sent = append(sent, out[:d.Out]...)
		more = d.More
	}
	return st, sent
}

// handshake steps both sides until both are done or one fails.
func handshake(t testing.TB, client, server *Conn) (cst, sst Step) {
	t.Helper()
	var toServer, toClient []byte
	for range 10 {
		if cst.Status != Done {
			in := toClient
			cst, toServer = run(client, func(out []byte) Step { return client.Handshake(in, out) })
			toClient = nil // consumed: never fed twice (TLS 1.2 ends on the client)
		}
		if sst.Status != Done {
			in := toServer
			sst, toClient = run(server, func(out []byte) Step { return server.Handshake(in, out) })
		}
		if cst.Status == Failed || sst.Status == Failed || cst.Status == Done && sst.Status == Done {
			if cst.Status == Done && len(toClient) > 0 {
				// The server's last flight (tickets) is read like data.
				in := toClient
				run(client, func([]byte) Step { return client.Read(in, make([]byte, 1)) })
			}
			return cst, sst
		}
	}
	t.Fatal("handshake did not finish")
	return
}

func newConn(t testing.TB, ctx *Context, server bool, sni string, verify VerifyFunc) *Conn {
	t.Helper()
	c, err := ctx.NewConn(server, sni, nil, verify)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestEngineHandshakeAndData(t *testing.T) {
	cert := selfSigned(t, "engine.test")
	sctx := newContext(t, &ContextConfig{Server: true, Certs: []CertKey{cert}, ALPN: []byte("\x02h2")})
	cctx := newContext(t, &ContextConfig{Verify: VerifyPeer, ALPN: []byte("\x02h2\x08http/1.1")})
	var seen [][]byte
	client := newConn(t, cctx, false, "engine.test", func(chain [][]byte, err error) uint8 {
		require.NoError(t, err)
		seen = chain
		return 0
	})
	server := newConn(t, sctx, true, "", accept)
	cst, sst := handshake(t, client, server)
	require.Equal(t, Done, cst.Status, "%v", cst.Err)
	require.Equal(t, Done, sst.Status, "%v", sst.Err)
	assert.Equal(t, cert.Chain, seen, "the verify callback sees the peer's chain")
	assert.Equal(t, cert.Chain, client.PeerChain())

	cs, ss := client.State(), server.State()
	assert.Equal(t, uint16(0x0304), cs.Version)
	assert.Equal(t, "h2", cs.ALPN)
	assert.Equal(t, "engine.test", ss.ServerName)
	assert.Equal(t, cs.Cipher, ss.Cipher)
	assert.False(t, cs.Resumed)

	st, wire := run(client, func(out []byte) Step { return client.Write([]byte("ping"), out) })
	require.Equal(t, Done, st.Status)
	assert.Equal(t, 4, st.N)
	buf := make([]byte, 16)
	rst := server.Read(wire, buf)
	require.Equal(t, Done, rst.Status)
	assert.Equal(t, "ping", string(buf[:rst.N]))
	assert.True(t, rst.Starved, "every byte fed was used")

	st, wire = run(client, client.Shutdown)
	require.Equal(t, Done, st.Status)
	assert.Equal(t, EOF, server.Read(wire, buf).Status)
}

func TestEngineVerifyAlertReachesPeer(t *testing.T) {
	sctx := newContext(t, &ContextConfig{Server: true, Certs: []CertKey{selfSigned(t, "engine.test")}})
	cctx := newContext(t, &ContextConfig{Verify: VerifyPeer})
	for name, verify := range map[string]VerifyFunc{
		"Refused": func([][]byte, error) uint8 { return 48 }, // unknown_ca
		"Panics":  func([][]byte, error) uint8 { panic("verifier bug") },
	} {
		t.Run(name, func(t *testing.T) {
			client := newConn(t, cctx, false, "engine.test", verify)
			server := newConn(t, sctx, true, "", accept)
			cst, sst := handshake(t, client, server)
			assert.Equal(t, Failed, cst.Status)
			assert.Equal(t, Failed, sst.Status)
			if name == "Refused" {
				assert.Regexp(t, `(?i)unknown.ca`, sst.Err.Error(), "the server hears the alert chosen in Go")
			} else {
				// OpenSSL has no X509 error for internal_error and sends
				// certificate_unknown instead.
				assert.Regexp(t, `(?i)internal.error|certificate.unknown`, sst.Err.Error())
			}
		})
	}
}

func TestEngineSelectsCertificateBySNI(t *testing.T) {
	a, b := selfSigned(t, "a.test"), selfSigned(t, "b.test")
	sctx := newContext(t, &ContextConfig{Server: true, Certs: []CertKey{a, b}, Select: func(name string) int {
		if name == "b.test" {
			return 1
		}
		return 99 // out of range: the shim serves the first
	}})
	cctx := newContext(t, &ContextConfig{Verify: VerifyPeer})
	for sni, want := range map[string]CertKey{"b.test": b, "other.test": a} {
		client := newConn(t, cctx, false, sni, accept)
		server := newConn(t, sctx, true, "", accept)
		cst, _ := handshake(t, client, server)
		require.Equal(t, Done, cst.Status, "%v", cst.Err)
		assert.Equal(t, want.Chain, client.PeerChain(), sni)
	}
}

func TestEngineGarbageIsAReadableError(t *testing.T) {
	sctx := newContext(t, &ContextConfig{Server: true, Certs: []CertKey{selfSigned(t, "engine.test")}})
	server := newConn(t, sctx, true, "", accept)
	st := server.Handshake([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), make([]byte, 1024))
	require.Equal(t, Failed, st.Status)
	// The library's reason string, not just a code.
	assert.Regexp(t, `(?i)wrong.version|http|record|packet`, st.Err.Error())
}

func TestEngineClose(t *testing.T) {
	ctx, err := NewContext(&ContextConfig{Server: true, MinVersion: 0x0303, MaxVersion: 0x0304,
		Groups: "X25519", Certs: []CertKey{selfSigned(t, "engine.test")}})
	require.NoError(t, err)
	conn, err := ctx.NewConn(true, "", nil, accept)
	require.NoError(t, err)
	ctx.Close()
	ctx.Close() // idempotent
	_, err = ctx.NewConn(true, "", nil, accept)
	assert.ErrorIs(t, err, ErrContextClosed)
	// The conn keeps its reference on the SSL_CTX.
	assert.Equal(t, WantRead, conn.Handshake(nil, make([]byte, 1024)).Status)
	conn.Close()
	conn.Close()
	assert.Equal(t, Closed, conn.Handshake(nil, nil).Status)
	assert.Equal(t, Closed, conn.Read(nil, make([]byte, 1)).Status)
	assert.Equal(t, State{}, conn.State())
	assert.Nil(t, conn.PeerChain())
}

func TestChainFraming(t *testing.T) {
	ders := [][]byte{[]byte("leaf"), {}, []byte("root")}
	got, err := decodeChain(encodeChain(ders))
	require.NoError(t, err)
	assert.Equal(t, ders, got)
	_, err = decodeChain([]byte{0, 0, 0, 9, 'x'})
	assert.ErrorIs(t, err, errTruncatedChain)
	_, err = decodeChain([]byte{0, 0})
	assert.ErrorIs(t, err, errTruncatedChain)
}
