package tls_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// assertField checks that err is about field: a *FieldError inside an error
// that still reads "tls: …" and still carries the old message text.
func assertField(t *testing.T, err error, field, text string) {
	t.Helper()
	require.Error(t, err)
	var fe *tls.FieldError
	require.True(t, errors.As(err, &fe), "no FieldError in %q", err)
	assert.Equal(t, field, fe.Field)
	assert.Contains(t, fe.Err.Error(), text)
	assert.NotContains(t, fe.Err.Error(), "tls: ", "the placed message has no package prefix")
	assert.Equal(t, fe.Field+": "+fe.Err.Error(), fe.Error())
	assert.Equal(t, "tls: "+fe.Error(), err.Error())
}

func TestServerConfigFieldErrors(t *testing.T) {
	p := tlstest.NewPKI(t)
	base := func(f func(c *tls.ServerConfig)) *tls.ServerConfig {
		c := &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}}
		f(c)
		return c
	}
	tests := []struct {
		name, field, text string
		cfg               *tls.ServerConfig
	}{
		{"NoCertificate", "certificates", "no certificate", &tls.ServerConfig{}},
		{"EmptyChain", "certificates[1]", "certificate 1 has an empty chain", base(func(c *tls.ServerConfig) {
			c.Certificates = append(c.Certificates, tls.Certificate{Key: p.ServerRSA.Key})
		})},
		{"BadDER", "certificates[0]", "certificate 0: parse leaf certificate", base(func(c *tls.ServerConfig) {
			c.Certificates = []tls.Certificate{{Chain: [][]byte{{1, 2, 3}}, Key: p.ServerECDSA.Key}}
		})},
		{"MismatchedKey", "certificates[1]", "does not match", base(func(c *tls.ServerConfig) {
			c.Certificates = append(c.Certificates, tls.Certificate{Chain: p.ServerRSA.Chain, Key: p.ServerECDSA.Key})
		})},
		{"NoKey", "certificates[0]", "has no private key", base(func(c *tls.ServerConfig) {
			c.Certificates = []tls.Certificate{{Chain: p.ServerECDSA.Chain}}
		})},
		{"Policy", "policy", `unknown policy "old"`, base(func(c *tls.ServerConfig) { c.Policy = "old" })},
		{"UnknownSuite", "cipher_suites[2]", `cipher suite "DES-CBC3-SHA" is unknown`, base(func(c *tls.ServerConfig) {
			c.CipherSuites = []string{"TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "DES-CBC3-SHA"}
		})},
		{"TLS12SuiteUnderModern", "cipher_suites[1]", "is a TLS 1.2 suite", base(func(c *tls.ServerConfig) {
			c.Policy = tls.PolicyModern
			c.CipherSuites = []string{"TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"}
		})},
		{"UnknownGroup", "groups[0]", `unknown group "X448"`, base(func(c *tls.ServerConfig) { c.Groups = []string{"X448", "X25519"} })},
		{"EmptyALPN", "alpn[1]", "ALPN entry 1 is empty", base(func(c *tls.ServerConfig) { c.ALPN = []string{"h2", ""} })},
		{"LongALPN", "alpn[0]", "longer than 255", base(func(c *tls.ServerConfig) { c.ALPN = []string{string(make([]byte, 256))} })},
		{"BadMode", "client_auth.mode", "invalid client auth mode 42", base(func(c *tls.ServerConfig) { c.ClientAuth = 42 })},
		{"VerifyWithoutCA", "client_auth.ca", "verifies client certificates but no client CA", base(func(c *tls.ServerConfig) {
			c.ClientAuth = tls.ClientAuthVerifyIfGiven
		})},
		{"NegativeTimeout", "handshake_timeout", "negative handshake timeout", base(func(c *tls.ServerConfig) { c.HandshakeTimeout = -time.Second })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertField(t, tt.cfg.Validate(), tt.field, tt.text)
		})
	}
	var fe *tls.FieldError
	assert.False(t, errors.As((*tls.ServerConfig)(nil).Validate(), &fe), "a nil config is no field's fault")
}

func TestClientConfigFieldErrors(t *testing.T) {
	p := tlstest.NewPKI(t)
	tests := []struct {
		name, field, text string
		cfg               *tls.ClientConfig
	}{
		{"EmptyChain", "cert", "client certificate has an empty chain", &tls.ClientConfig{Certificate: &tls.Certificate{Key: p.ClientECDSA.Key}}},
		{"BadDER", "cert", "client certificate: parse leaf certificate", &tls.ClientConfig{Certificate: &tls.Certificate{Chain: [][]byte{{1}}, Key: p.ClientECDSA.Key}}},
		{"MismatchedKey", "cert", "does not match", &tls.ClientConfig{Certificate: &tls.Certificate{Chain: p.ClientECDSA.Chain, Key: p.ClientRSA.Key}}},
		{"Policy", "policy", "unknown policy", &tls.ClientConfig{Policy: "legacy"}},
		{"UnknownSuite", "cipher_suites[0]", "unknown", &tls.ClientConfig{CipherSuites: []string{"RC4-SHA"}}},
		{"UnknownGroup", "groups[1]", "unknown group", &tls.ClientConfig{Groups: []string{"P-256", "brainpoolP256r1"}}},
		{"EmptyALPN", "alpn[1]", "ALPN entry 1 is empty", &tls.ClientConfig{ALPN: []string{"h2", ""}}},
		{"MaxVersionUnderModern", "max_version", "TLS 1.3 only", &tls.ClientConfig{Policy: tls.PolicyModern, MaxVersion: tls.VersionTLS12}},
		{"OddMaxVersion", "max_version", "unsupported max version 0x0302", &tls.ClientConfig{MaxVersion: 0x0302}},
		{"NegativeCache", "session_cache_size", "negative session cache size", &tls.ClientConfig{SessionCacheSize: -1}},
		{"NegativeTimeout", "handshake_timeout", "negative handshake timeout", &tls.ClientConfig{HandshakeTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertField(t, tt.cfg.Validate(), tt.field, tt.text)
		})
	}
}

func TestParamsFieldErrors(t *testing.T) {
	noPQ := allCaps()
	noPQ.Groups = []tls.Group{tls.X25519, tls.P256}
	fixed := allCaps()
	fixed.FixedTLS13Suites = true
	noChaCha := allCaps()
	noChaCha.CipherSuites = nil
	for _, s := range tls.Suites() {
		if s.Name != "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" {
			noChaCha.CipherSuites = append(noChaCha.CipherSuites, s.ID)
		}
	}

	t.Run("GroupTheBackendLacks", func(t *testing.T) {
		_, err := (&tls.ServerConfig{Groups: []string{"X25519", "X25519MLKEM768"}}).Params(noPQ)
		assertField(t, err, "groups[1]", "group X25519MLKEM768 is not supported by this backend")
	})
	t.Run("UnknownGroup", func(t *testing.T) {
		_, err := (&tls.ClientConfig{Groups: []string{"X448"}}).Params(allCaps())
		assertField(t, err, "groups[0]", "unknown group")
	})
	t.Run("SuiteTheBackendLacks", func(t *testing.T) {
		_, err := (&tls.ClientConfig{CipherSuites: []string{"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"}}).Params(noChaCha)
		assertField(t, err, "cipher_suites[1]", "is not supported by this backend")
	})
	t.Run("TLS13SubsetOnFixedBackend", func(t *testing.T) {
		_, err := (&tls.ServerConfig{CipherSuites: []string{"TLS_AES_256_GCM_SHA384"}}).Params(fixed)
		assertField(t, err, "cipher_suites", "cannot narrow the TLS 1.3 cipher suites")
	})
	t.Run("UnknownPolicy", func(t *testing.T) {
		_, err := (&tls.ServerConfig{Policy: "old"}).Params(allCaps())
		assertField(t, err, "policy", "unknown policy")
	})
	t.Run("TLS12SuiteUnderModern", func(t *testing.T) {
		_, err := (&tls.ServerConfig{Policy: tls.PolicyModern, CipherSuites: []string{"ECDHE-RSA-AES128-GCM-SHA256"}}).Params(allCaps())
		assertField(t, err, "cipher_suites[0]", "TLS 1.3 only")
	})
	t.Run("MaxVersionBelowPolicy", func(t *testing.T) {
		_, err := (&tls.ClientConfig{Policy: tls.PolicyModern, MaxVersion: tls.VersionTLS12}).Params(allCaps())
		assertField(t, err, "max_version", "below the policy's minimum")
	})
	t.Run("NoGroupLeftIsNoFieldsFault", func(t *testing.T) {
		_, err := (&tls.ServerConfig{}).Params(tls.Capabilities{CipherSuites: allCaps().CipherSuites})
		require.Error(t, err)
		var fe *tls.FieldError
		assert.False(t, errors.As(err, &fe), "the backend has no group; no field can fix that")
	})
}

func TestClientAuthModeText(t *testing.T) {
	var m tls.ClientAuthMode
	require.NoError(t, m.UnmarshalText([]byte("verify-if-given")))
	assert.Equal(t, tls.ClientAuthVerifyIfGiven, m)
	text, err := tls.ClientAuthRequireAndVerify.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "require-and-verify", string(text))

	err = m.UnmarshalText([]byte("optional"))
	assert.ErrorContains(t, err, `unknown client auth mode "optional"`)
	assert.Equal(t, tls.ClientAuthVerifyIfGiven, m, "a refused name leaves the mode alone")
	_, err = tls.ClientAuthMode(7).MarshalText()
	assert.ErrorContains(t, err, "invalid client auth mode 7")
}

func TestParsedLeaf(t *testing.T) {
	p := tlstest.NewPKI(t)
	c := p.ServerECDSA
	leaf, err := c.ParsedLeaf()
	require.NoError(t, err)
	assert.Same(t, p.ServerECDSA.Leaf, leaf, "a parsed leaf is returned as is")

	c.Leaf = nil
	leaf, err = c.ParsedLeaf()
	require.NoError(t, err)
	assert.True(t, leaf.Equal(p.ServerECDSA.Leaf))
	assert.Nil(t, c.Leaf, "ParsedLeaf does not write to a possibly shared Certificate")

	_, err = (&tls.Certificate{}).ParsedLeaf()
	assert.EqualError(t, err, "tls: certificate chain is empty")
	_, err = (&tls.Certificate{Chain: [][]byte{{1, 2}}}).ParsedLeaf()
	assert.ErrorContains(t, err, "tls: parse leaf certificate: x509: ")
}

// TestConfigYAMLKeys pins the YAML schema of the config structs: the config
// package decodes straight into them, so a renamed key breaks config files.
func TestConfigYAMLKeys(t *testing.T) {
	keys := func(v any) map[string]string {
		out := map[string]string{}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			f := rt.Field(i)
			tag, ok := f.Tag.Lookup("yaml")
			require.True(t, ok, "%s.%s has no yaml tag", rt.Name(), f.Name)
			out[f.Name] = tag
		}
		return out
	}
	assert.Equal(t, map[string]string{
		"Certificates": "-", "Policy": "policy", "CipherSuites": "cipher_suites", "Groups": "groups",
		"ALPN": "alpn", "ClientAuth": "-", "ClientCAs": "-", "CRLs": "-", "CRLExpired": "-", "Authorize": "-", "CRLSource": "-", "Logger": "-", "DisableSessionTickets": "-",
		"SessionTicketKeys": "-", "HandshakeTimeout": "handshake_timeout", "ECHKeys": "-",
	}, keys(tls.ServerConfig{}))
	assert.Equal(t, map[string]string{
		"RootCAs": "-", "DisableVerifyCert": "verify_cert,negate", "DisableVerifyHostname": "verify_hostname,negate",
		"Certificate": "-", "Policy": "policy", "CipherSuites": "cipher_suites", "Groups": "groups", "ALPN": "alpn",
		"MaxVersion": "-", "DisableSessionCache": "session_cache,negate", "SessionCacheSize": "session_cache_size",
		"CT":               "ct",
		"OCSP":             "ocsp",
		"HandshakeTimeout": "-", "Fingerprint": "fingerprint",
	}, keys(tls.ClientConfig{}))
}
