package gostd_test

import (
	"context"
	stdtls "crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/clienthello"
	"github.com/gantry-proxy/gantry/tls/gostd"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// seen is what the recording origin saw of one connection.
type seen struct {
	ja4, alpn string
	err       error
}

// replay serves the hello bytes already read before the connection.
type replay struct {
	net.Conn
	pending []byte
}

func (r *replay) Read(b []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(b, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}

// recordingOrigin accepts connections, fingerprints each ClientHello with
// clienthello and then completes the handshake with crypto/tls (when conf
// is not nil) on the replayed bytes.
func recordingOrigin(t *testing.T, conf *stdtls.Config) (string, <-chan seen) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	out := make(chan seen, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			h, raw, err := clienthello.Read(c, 0)
			if err != nil || conf == nil {
				_ = c.Close()
				out <- seen{err: err, ja4: jaOf(h)}
				continue
			}
			tc := stdtls.Server(&replay{Conn: c, pending: raw}, conf)
			err = tc.Handshake()
			out <- seen{ja4: h.JA4(), alpn: tc.ConnectionState().NegotiatedProtocol, err: err}
			_ = tc.Close()
		}
	}()
	return ln.Addr().String(), out
}

func jaOf(h *clienthello.Hello) string {
	if h == nil {
		return ""
	}
	return h.JA4()
}

// utlsJA4 is the JA4 of the hello uTLS itself makes for profile, with
// the ALPN list the proxy offers in place of the browser's.
func utlsJA4(t *testing.T, profile utls.ClientHelloID, alpn []string) string {
	addr, got := recordingOrigin(t, nil)
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer raw.Close()
	uc := utls.UClient(raw, &utls.Config{ServerName: tlstest.NameECDSA, NextProtos: alpn}, utls.HelloCustom)
	spec, err := utls.UTLSIdToSpec(profile)
	require.NoError(t, err)
	for _, e := range spec.Extensions {
		if a, ok := e.(*utls.ALPNExtension); ok {
			a.AlpnProtocols = alpn
		}
	}
	require.NoError(t, uc.ApplyPreset(&spec))
	_ = uc.Handshake() // the origin closes after the hello
	s := <-got
	require.NoError(t, s.err)
	return s.ja4
}

func TestFingerprints(t *testing.T) {
	p := tlstest.NewPKI(t)
	origin := &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: p.ServerECDSA.Chain, PrivateKey: p.ServerECDSA.Key}},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	addr, got := recordingOrigin(t, origin)
	dial := func(ccfg *tls.ClientConfig) (seen, stdtls.ConnectionState, error) {
		t.Helper()
		c, err := gostd.Backend().NewClient(ccfg)
		require.NoError(t, err)
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conn := c.Client(raw, tlstest.NameECDSA)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = conn.HandshakeContext(ctx)
		return <-got, conn.ConnectionState(), err
	}
	plain, _, err := dial(&tls.ClientConfig{RootCAs: p.Roots(), ALPN: []string{"h2", "http/1.1"}})
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		profile utls.ClientHelloID
	}{
		{tls.FingerprintChrome, utls.HelloChrome_Auto},
		{tls.FingerprintFirefox, utls.HelloFirefox_Auto},
		{tls.FingerprintSafari, utls.HelloSafari_Auto},
		{tls.FingerprintRandomized, utls.HelloRandomizedALPN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, alpn := range [][]string{{"h2", "http/1.1"}, {"http/1.1"}} {
				s, state, err := dial(&tls.ClientConfig{RootCAs: p.Roots(), ALPN: alpn, Fingerprint: tc.name})
				require.NoError(t, err, "alpn %v", alpn)
				require.NoError(t, s.err)
				assert.Equal(t, alpn[0], s.alpn, "the origin negotiated the proxy's first protocol")
				assert.Equal(t, alpn[0], state.NegotiatedProtocol)
				assert.NotEmpty(t, state.VerifiedChains, "Gantry's verifier built the chain")
				assert.NotEqual(t, plain.ja4, s.ja4, "a fingerprint is not crypto/tls's")
				if tc.name != tls.FingerprintRandomized {
					assert.Equal(t, utlsJA4(t, tc.profile, alpn), s.ja4, "alpn %v", alpn)
				}
				t.Logf("%s alpn %v: JA4 %s (crypto/tls %s)", tc.name, alpn, s.ja4, plain.ja4)
			}
		})
	}

	t.Run("verification is Gantry's", func(t *testing.T) {
		_, _, err := dial(&tls.ClientConfig{RootCAs: nil, ALPN: []string{"http/1.1"}, Fingerprint: tls.FingerprintChrome})
		require.Error(t, err, "the test PKI is not among the system roots")
		var verr *tls.VerifyError
		assert.ErrorAs(t, err, &verr)
	})
}

// A browser profile still lists TLS 1.2 CBC suites; a server that picks
// one is refused, as the policy does not allow it.
func TestFingerprintHoldsThePolicy(t *testing.T) {
	p := tlstest.NewPKI(t)
	origin := &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: p.ServerRSA.Chain, PrivateKey: p.ServerRSA.Key}},
		MaxVersion:   stdtls.VersionTLS12,
		CipherSuites: []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, // #nosec G402 -- the suite the client must refuse
	}
	addr, got := recordingOrigin(t, origin)
	c, err := gostd.Backend().NewClient(&tls.ClientConfig{RootCAs: p.Roots(), ALPN: []string{"http/1.1"}, Fingerprint: tls.FingerprintChrome})
	require.NoError(t, err)
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	conn := c.Client(raw, tlstest.NameRSA)
	defer conn.Close()
	err = conn.HandshakeContext(context.Background())
	<-got
	require.Error(t, err)
	assert.Contains(t, err.Error(), "outside the policy")
}

func TestFingerprintConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg   tls.ClientConfig
		field string
	}{
		{tls.ClientConfig{Fingerprint: "netscape"}, "fingerprint"},
		{tls.ClientConfig{Fingerprint: "chrome", CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}}, "cipher_suites"},
		{tls.ClientConfig{Fingerprint: "chrome", Groups: []string{"X25519"}}, "groups"},
	} {
		err := tc.cfg.Validate()
		var fe *tls.FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, tc.field, fe.Field)
	}
	assert.True(t, slices.Contains(tls.Fingerprints(), tls.FingerprintSafari))
}
