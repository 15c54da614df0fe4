package tlstest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

func configCases() []testCase {
	type serverCase struct {
		name string
		cfg  func(p *PKI) *tls.ServerConfig
		want string // a word the error must contain
	}
	withServer := func(f func(c *tls.ServerConfig)) func(p *PKI) *tls.ServerConfig {
		return func(p *PKI) *tls.ServerConfig {
			c := baseServer(p)
			f(c)
			return c
		}
	}
	servers := []serverCase{
		{"NilConfig", func(*PKI) *tls.ServerConfig { return nil }, "nil"},
		{"NoCertificate", func(*PKI) *tls.ServerConfig { return &tls.ServerConfig{} }, "no certificate"},
		{"EmptyChain", withServer(func(c *tls.ServerConfig) {
			c.Certificates = []tls.Certificate{{Key: c.Certificates[0].Key}}
		}), "empty chain"},
		{"MismatchedKey", func(p *PKI) *tls.ServerConfig {
			return &tls.ServerConfig{Certificates: []tls.Certificate{{Chain: p.ServerECDSA.Chain, Key: p.ServerOther.Key}}}
		}, "does not match"},
		{"MissingKey", func(p *PKI) *tls.ServerConfig {
			return &tls.ServerConfig{Certificates: []tls.Certificate{{Chain: p.ServerECDSA.Chain}}}
		}, "no private key"},
		{"UnknownSuite", withServer(func(c *tls.ServerConfig) { c.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} }), "cipher suite"},
		{"TLS12SuiteUnderModern", withServer(func(c *tls.ServerConfig) {
			c.Policy = tls.PolicyModern
			c.CipherSuites = []string{"ECDHE-RSA-AES128-GCM-SHA256"}
		}), "TLS 1.3 only"},
		{"UnknownGroup", withServer(func(c *tls.ServerConfig) { c.Groups = []string{"X448"} }), "group"},
		{"UnknownPolicy", withServer(func(c *tls.ServerConfig) { c.Policy = "old" }), "policy"},
		{"EmptyALPNEntry", withServer(func(c *tls.ServerConfig) { c.ALPN = []string{"h2", ""} }), "ALPN"},
		{"VerifyWithoutCA", withServer(func(c *tls.ServerConfig) { c.ClientAuth = tls.ClientAuthVerifyIfGiven }), "client CA"},
		{"InvalidClientAuthMode", withServer(func(c *tls.ServerConfig) { c.ClientAuth = 42 }), "client auth"},
		{"NegativeTimeout", withServer(func(c *tls.ServerConfig) { c.HandshakeTimeout = -1 }), "timeout"},
	}
	type clientCase struct {
		name string
		cfg  func(p *PKI) *tls.ClientConfig
		want string
	}
	withClient := func(f func(c *tls.ClientConfig)) func(p *PKI) *tls.ClientConfig {
		return func(p *PKI) *tls.ClientConfig {
			c := baseClient(p)
			f(c)
			return c
		}
	}
	clients := []clientCase{
		{"NilConfig", func(*PKI) *tls.ClientConfig { return nil }, "nil"},
		{"MismatchedKey", func(p *PKI) *tls.ClientConfig {
			c := baseClient(p)
			c.Certificate = &tls.Certificate{Chain: p.ClientECDSA.Chain, Key: p.ClientUntrusted.Key}
			return c
		}, "does not match"},
		{"UnknownSuite", withClient(func(c *tls.ClientConfig) { c.CipherSuites = []string{"DES-CBC3-SHA"} }), "cipher suite"},
		{"UnknownGroup", withClient(func(c *tls.ClientConfig) { c.Groups = []string{"ffdhe2048"} }), "group"},
		{"EmptyALPNEntry", withClient(func(c *tls.ClientConfig) { c.ALPN = []string{""} }), "ALPN"},
		{"NegativeCacheSize", withClient(func(c *tls.ClientConfig) { c.SessionCacheSize = -1 }), "cache"},
		{"MaxVersionUnderModern", withClient(func(c *tls.ClientConfig) {
			c.Policy = tls.PolicyModern
			c.MaxVersion = tls.VersionTLS12
		}), "TLS 1.3 only"},
		{"UnsupportedMaxVersion", withClient(func(c *tls.ClientConfig) { c.MaxVersion = 0x0301 }), "max version"},
	}
	var cases []testCase
	for _, c := range servers {
		cases = append(cases, testCase{"Server/" + c.name, func(t *testing.T, b tls.Backend) {
			var s tls.Server
			var err error
			require.NotPanics(t, func() { s, err = b.NewServer(c.cfg(NewPKI(t))) })
			require.Error(t, err, "NewServer accepted a bad config")
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), c.want)
		}})
	}
	for _, c := range clients {
		cases = append(cases, testCase{"Client/" + c.name, func(t *testing.T, b tls.Backend) {
			var cl tls.Client
			var err error
			require.NotPanics(t, func() { cl, err = b.NewClient(c.cfg(NewPKI(t))) })
			require.Error(t, err, "NewClient accepted a bad config")
			assert.Nil(t, cl)
			assert.Contains(t, err.Error(), c.want)
		}})
	}
	return append(cases, testCase{"GroupOutsideCapabilities", func(t *testing.T, b tls.Backend) {
		// Naming a group the backend lacks is an error, never a silent
		// drop; naming one it has works.
		p := NewPKI(t)
		for _, g := range []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384} {
			scfg := baseServer(p)
			scfg.Groups = []string{string(g)}
			ccfg := baseClient(p)
			ccfg.Groups = []string{string(g)}
			s, serr := b.NewServer(scfg)
			c, cerr := b.NewClient(ccfg)
			if b.Capabilities().HasGroup(g) {
				assert.NoError(t, serr, "server with %s", g)
				assert.NoError(t, cerr, "client with %s", g)
			} else {
				assert.ErrorContains(t, serr, "not supported by this backend", "server with %s", g)
				assert.ErrorContains(t, cerr, "not supported by this backend", "client with %s", g)
			}
			if s != nil {
				_ = s.Close()
			}
			if c != nil {
				_ = c.Close()
			}
		}
	}})
}
