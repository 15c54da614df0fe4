package gostd_test

import (
	stdtls "crypto/tls"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/gostd"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func TestConformance(t *testing.T) { tlstest.Run(t, gostd.Backend()) }

func TestInterop(t *testing.T) { tlstest.Interop(t, tls.Backends()...) }

func BenchmarkHandshake(b *testing.B) { tlstest.BenchmarkHandshake(b, gostd.Backend()) }

func BenchmarkThroughput(b *testing.B) { tlstest.BenchmarkThroughput(b, gostd.Backend()) }

func TestLibrary(t *testing.T) {
	b := gostd.Backend()
	assert.Equal(t, "gostd", b.Name())
	assert.Contains(t, b.Library(), runtime.Version())
	got, err := tls.Lookup("gostd")
	require.NoError(t, err)
	assert.Equal(t, b, got, "the registered backend is the exported one")
}

// TestCapabilitiesAreSecure checks the advertised suites against crypto/tls's
// own list of secure suites, so a Go upgrade that demotes one is noticed.
func TestCapabilitiesAreSecure(t *testing.T) {
	secure := map[uint16]bool{}
	for _, s := range stdtls.CipherSuites() {
		secure[s.ID] = true
	}
	caps := gostd.Backend().Capabilities()
	assert.Len(t, caps.CipherSuites, len(tls.Suites()))
	for _, id := range caps.CipherSuites {
		assert.True(t, secure[id], "suite 0x%04x", id)
	}
	assert.True(t, caps.HasGroup(tls.X25519MLKEM768), "Go has the post-quantum hybrid")
}

func testPKIConfigs(t *testing.T) (*tls.ServerConfig, *tls.ClientConfig) {
	p := tlstest.NewPKI(t)
	return &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}},
		&tls.ClientConfig{RootCAs: p.Roots()}
}

func newPair(t *testing.T, scfg *tls.ServerConfig, ccfg *tls.ClientConfig) (tls.Server, tls.Client) {
	s, err := gostd.Backend().NewServer(scfg)
	require.NoError(t, err)
	c, err := gostd.Backend().NewClient(ccfg)
	require.NoError(t, err)
	return s, c
}

// TestALPNNoOverlapAlert checks the alert behind the refusal the suite
// checks: no_application_protocol, also for the http/1.1-to-h2 case that
// crypto/tls would otherwise let through.
func TestALPNNoOverlapAlert(t *testing.T) {
	for _, offered := range [][]string{{"http/1.1"}, {"spdy/3"}} {
		scfg, ccfg := testPKIConfigs(t)
		scfg.ALPN = []string{"h2"}
		ccfg.ALPN = offered
		s, c := newPair(t, scfg, ccfg)
		r := tlstest.Exchange(t, s, c, tlstest.NameECDSA)
		require.Error(t, r.ClientErr)
		assert.Contains(t, r.ClientErr.Error(), "no application protocol", "offered %v", offered)
		require.Error(t, r.ServerErr)
		assert.Contains(t, r.ServerErr.Error(), "unsupported application protocols")
	}
}

// TestHandshakeErrorWording checks that a failed handshake names the
// backend, the side and the peer, and keeps the verifier's words.
func TestHandshakeErrorWording(t *testing.T) {
	p := tlstest.NewPKI(t)
	scfg := &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerExpired}}
	_, ccfg := testPKIConfigs(t)
	s, c := newPair(t, scfg, ccfg)
	r := tlstest.Exchange(t, s, c, tlstest.NameExpired)
	require.Error(t, r.ClientErr)
	assert.Regexp(t, `^gostd: client handshake with 127\.0\.0\.1:\d+: tls: peer certificate refused: x509: certificate has expired`, r.ClientErr.Error())
	// The server's own words depend on whether it read the client's alert
	// before the connection ended; only the frame is fixed.
	assert.Regexp(t, `^gostd: server handshake with 127\.0\.0\.1:\d+: `, r.ServerErr.Error())
}
