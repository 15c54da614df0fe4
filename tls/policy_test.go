package tls_test

import (
	stdtls "crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

func allCaps() tls.Capabilities {
	caps := tls.Capabilities{
		Versions: []uint16{tls.VersionTLS12, tls.VersionTLS13},
		Groups:   []tls.Group{tls.P384, tls.P256, tls.X25519, tls.X25519MLKEM768},
	}
	for _, s := range tls.Suites() {
		caps.CipherSuites = append(caps.CipherSuites, s.ID)
	}
	return caps
}

func TestParseGroup(t *testing.T) {
	for name, want := range map[string]tls.Group{
		"X25519": tls.X25519, "x25519": tls.X25519,
		"P-256": tls.P256, "secp256r1": tls.P256, "prime256v1": tls.P256, "P256": tls.P256,
		"P-384": tls.P384, "SECP384R1": tls.P384,
		"X25519MLKEM768": tls.X25519MLKEM768, "x25519mlkem768": tls.X25519MLKEM768,
	} {
		got, err := tls.ParseGroup(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	for _, bad := range []string{"", "P-521", "X448", "ffdhe2048", "secp521r1"} {
		_, err := tls.ParseGroup(bad)
		assert.ErrorContains(t, err, "unknown group", bad)
	}
}

func TestGroupCurveIDRoundTrip(t *testing.T) {
	for _, g := range []tls.Group{tls.X25519, tls.P256, tls.P384, tls.X25519MLKEM768} {
		id := g.CurveID()
		assert.NotZero(t, id, g)
		back, ok := tls.GroupByCurveID(id)
		assert.True(t, ok)
		assert.Equal(t, g, back)
	}
	assert.Zero(t, tls.Group("P-521").CurveID())
	_, ok := tls.GroupByCurveID(stdtls.CurveP521)
	assert.False(t, ok, "P-521 is not a Gantry group")
}

func TestSuiteLookup(t *testing.T) {
	s, ok := tls.SuiteByName("ECDHE-RSA-AES256-GCM-SHA384")
	require.True(t, ok)
	assert.Equal(t, stdtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, s.ID)
	s2, ok := tls.SuiteByName("tls_ecdhe_rsa_with_aes_256_gcm_sha384")
	require.True(t, ok, "IANA names match in any case")
	assert.Equal(t, s, s2)
	byID, ok := tls.SuiteByID(s.ID)
	require.True(t, ok)
	assert.Equal(t, s, byID)
	for _, weak := range []string{"TLS_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-SHA", "DES-CBC3-SHA", ""} {
		_, ok := tls.SuiteByName(weak)
		assert.False(t, ok, "%q is outside every policy", weak)
	}
	_, ok = tls.SuiteByID(stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA)
	assert.False(t, ok)

	// Suites returns a copy: callers cannot change the policy.
	all := tls.Suites()
	all[0].Name = "changed"
	assert.NotEqual(t, "changed", tls.Suites()[0].Name)
	seen13 := false
	for _, s := range tls.Suites() {
		if !s.TLS13 {
			assert.Contains(t, s.Name, "_ECDHE_", "TLS 1.2 suites are ECDHE only")
			assert.Regexp(t, "GCM|CHACHA20_POLY1305", s.Name, "TLS 1.2 suites are AEAD only")
			assert.True(t, seen13, "TLS 1.3 suites come first")
		} else {
			seen13 = true
		}
	}
}

func suiteNames(ss []tls.Suite) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func TestParams(t *testing.T) {
	noMLKEM := allCaps()
	noMLKEM.Groups = []tls.Group{tls.X25519, tls.P256, tls.P384}
	noChaCha := allCaps()
	noChaCha.CipherSuites = nil
	for _, s := range tls.Suites() {
		if s.ID != stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
			noChaCha.CipherSuites = append(noChaCha.CipherSuites, s.ID)
		}
	}
	fixed13 := allCaps()
	fixed13.FixedTLS13Suites = true
	tests := []struct {
		name     string
		cfg      tls.ServerConfig
		caps     tls.Capabilities
		min, max uint16
		n12, n13 int
		groups   []tls.Group
		first12  string
		wantErr  string
	}{
		{name: "DefaultIsIntermediate", caps: allCaps(), min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 6, n13: 3,
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "Intermediate", cfg: tls.ServerConfig{Policy: "intermediate"}, caps: allCaps(), min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 6, n13: 3,
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "Modern", cfg: tls.ServerConfig{Policy: "modern"}, caps: allCaps(), min: tls.VersionTLS13, max: tls.VersionTLS13, n12: 0, n13: 3,
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "GroupsFollowCapabilities", caps: noMLKEM, min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 6, n13: 3,
			groups: []tls.Group{tls.X25519, tls.P256, tls.P384}},
		{name: "DefaultSuitesFollowCapabilities", caps: noChaCha, min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 5, n13: 3,
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "GroupsNarrowedInGivenOrder", cfg: tls.ServerConfig{Groups: []string{"secp384r1", "x25519"}}, caps: allCaps(),
			min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 6, n13: 3, groups: []tls.Group{tls.P384, tls.X25519}},
		{name: "TLS12SuitesNarrowedTLS13Kept", cfg: tls.ServerConfig{CipherSuites: []string{"ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-GCM-SHA256"}},
			caps: allCaps(), min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 2, n13: 3, first12: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "TLS13SuitesNarrowedTLS12Kept", cfg: tls.ServerConfig{CipherSuites: []string{"TLS_AES_256_GCM_SHA384"}},
			caps: allCaps(), min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 6, n13: 1,
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "TLS13SuitesAllOnFixedBackend", cfg: tls.ServerConfig{CipherSuites: []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}},
			caps: fixed13, min: tls.VersionTLS12, max: tls.VersionTLS13, n12: 6, n13: 3,
			groups: []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384}},
		{name: "TLS13SuitesNarrowedOnFixedBackend", cfg: tls.ServerConfig{CipherSuites: []string{"TLS_AES_256_GCM_SHA384"}}, caps: fixed13, wantErr: "cannot narrow the TLS 1.3 cipher suites"},
		{name: "UnknownPolicy", cfg: tls.ServerConfig{Policy: "old"}, caps: allCaps(), wantErr: "unknown policy"},
		{name: "TLS12SuiteUnderModern", cfg: tls.ServerConfig{Policy: "modern", CipherSuites: []string{"ECDHE-RSA-AES128-GCM-SHA256"}}, caps: allCaps(), wantErr: "TLS 1.3 only"},
		{name: "UnknownSuite", cfg: tls.ServerConfig{CipherSuites: []string{"RC4-SHA"}}, caps: allCaps(), wantErr: "unknown or not allowed"},
		{name: "SuiteMissingFromBackend", cfg: tls.ServerConfig{CipherSuites: []string{"ECDHE-ECDSA-CHACHA20-POLY1305"}}, caps: noChaCha, wantErr: "not supported by this backend"},
		{name: "GroupMissingFromBackend", cfg: tls.ServerConfig{Groups: []string{"X25519MLKEM768"}}, caps: noMLKEM, wantErr: "not supported by this backend"},
		{name: "UnknownGroup", cfg: tls.ServerConfig{Groups: []string{"X448"}}, caps: allCaps(), wantErr: "unknown group"},
		{name: "NoGroupLeft", caps: tls.Capabilities{CipherSuites: allCaps().CipherSuites}, wantErr: "no key-exchange group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.cfg.Params(tt.caps)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.min, p.MinVersion)
			assert.Equal(t, tt.max, p.MaxVersion)
			assert.Len(t, p.TLS12Suites, tt.n12, "%v", suiteNames(p.TLS12Suites))
			assert.Len(t, p.TLS13Suites, tt.n13, "%v", suiteNames(p.TLS13Suites))
			assert.Equal(t, tt.groups, p.Groups)
			if tt.first12 != "" {
				assert.Equal(t, tt.first12, p.TLS12Suites[0].Name, "the given order is kept")
			}
			for _, s := range p.TLS12Suites {
				assert.False(t, s.TLS13)
			}
			for _, s := range p.TLS13Suites {
				assert.True(t, s.TLS13)
			}
			ids := p.SuiteIDs()
			assert.Len(t, ids, tt.n12+tt.n13)
			if tt.n13 > 0 {
				assert.Equal(t, p.TLS13Suites[0].ID, ids[0], "TLS 1.3 suites first")
			}
		})
	}
}

func TestClientParamsMaxVersion(t *testing.T) {
	tests := []struct {
		name    string
		cfg     tls.ClientConfig
		max     uint16
		wantErr string
	}{
		{"Zero", tls.ClientConfig{}, tls.VersionTLS13, ""},
		{"TLS13", tls.ClientConfig{MaxVersion: tls.VersionTLS13}, tls.VersionTLS13, ""},
		{"TLS12", tls.ClientConfig{MaxVersion: tls.VersionTLS12}, tls.VersionTLS12, ""},
		{"TLS12UnderModern", tls.ClientConfig{Policy: "modern", MaxVersion: tls.VersionTLS12}, 0, "below the policy's minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.cfg.Params(allCaps())
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.max, p.MaxVersion)
			assert.Equal(t, uint16(tls.VersionTLS12), p.MinVersion)
		})
	}
}

func TestCapabilitiesHasGroup(t *testing.T) {
	caps := tls.Capabilities{Groups: []tls.Group{tls.X25519}}
	assert.True(t, caps.HasGroup(tls.X25519))
	assert.False(t, caps.HasGroup(tls.P256))
	assert.False(t, tls.Capabilities{}.HasGroup(tls.X25519))
}
