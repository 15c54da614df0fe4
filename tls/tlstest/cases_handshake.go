package tlstest

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// baseServer is the suite's default server config: the ECDSA leaf only.
func baseServer(p *PKI) *tls.ServerConfig {
	return &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}}
}

// baseClient trusts the suite's roots and nothing else.
func baseClient(p *PKI) *tls.ClientConfig {
	return &tls.ClientConfig{RootCAs: p.Roots()}
}

// pair builds a server and a client of b and runs one Exchange.
func pair(t *testing.T, b tls.Backend, scfg *tls.ServerConfig, ccfg *tls.ClientConfig, serverName string) Result {
	t.Helper()
	return Exchange(t, newServer(t, b, scfg), newClient(t, b, ccfg), serverName)
}

func backendCases() []testCase {
	return []testCase{
		{"Registered", func(t *testing.T, b tls.Backend) {
			got, err := tls.Lookup(b.Name())
			require.NoError(t, err)
			assert.Equal(t, b.Name(), got.Name())
			assert.NotEmpty(t, b.Library())
		}},
		{"CapabilitiesKnown", func(t *testing.T, b tls.Backend) {
			caps := b.Capabilities()
			assert.Contains(t, caps.Versions, uint16(tls.VersionTLS13))
			assert.Contains(t, caps.Versions, uint16(tls.VersionTLS12))
			require.NotEmpty(t, caps.Groups)
			for _, g := range caps.Groups {
				_, err := tls.ParseGroup(string(g))
				assert.NoError(t, err, "group %s", g)
			}
			for _, id := range caps.CipherSuites {
				_, ok := tls.SuiteByID(id)
				assert.True(t, ok, "suite 0x%04x is not one Gantry knows", id)
			}
		}},
	}
}

// assertState checks what both sides report after a successful exchange.
func assertState(t *testing.T, r Result, version uint16, sni, proto string, leaf *x509.Certificate) {
	t.Helper()
	for side, cs := range map[string]stdtls.ConnectionState{"server": r.Server, "client": r.Client} {
		assert.Equal(t, version, cs.Version, "%s version", side)
		assert.True(t, cs.HandshakeComplete, "%s HandshakeComplete", side)
		assert.Equal(t, proto, cs.NegotiatedProtocol, "%s NegotiatedProtocol", side)
		assert.False(t, cs.DidResume, "%s DidResume", side)
		s, ok := tls.SuiteByID(cs.CipherSuite)
		if assert.True(t, ok, "%s suite 0x%04x is outside every policy", side, cs.CipherSuite) {
			assert.Equal(t, version == tls.VersionTLS13, s.TLS13, "%s suite %s for version 0x%04x", side, s.Name, version)
		}
	}
	assert.Equal(t, r.Server.CipherSuite, r.Client.CipherSuite, "both sides report the same suite")
	assert.Equal(t, sni, r.Server.ServerName, "server sees the SNI")
	assert.Empty(t, r.Server.PeerCertificates, "no client certificate was asked for")
	require.NotEmpty(t, r.Client.PeerCertificates, "client sees the server's chain")
	assert.True(t, leaf.Equal(r.Client.PeerCertificates[0]), "server certificate is %s, want %s",
		r.Client.PeerCertificates[0].Subject.CommonName, leaf.Subject.CommonName)
	require.NotEmpty(t, r.Client.VerifiedChains, "client reports the verified chain")
	chain := r.Client.VerifiedChains[0]
	assert.True(t, leaf.Equal(chain[0]), "verified chain starts at the leaf")
	assert.True(t, chain[len(chain)-1].IsCA, "verified chain ends at a CA")
}

func versionCases() []testCase {
	run := func(version uint16) func(t *testing.T, b tls.Backend) {
		return func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.ALPN = []string{"h2", "http/1.1"}
			ccfg := baseClient(p)
			ccfg.ALPN = []string{"h2", "http/1.1"}
			ccfg.MaxVersion = version
			r := pair(t, b, scfg, ccfg, NameECDSA)
			requireOK(t, r)
			assertState(t, r, version, NameECDSA, "h2", p.ServerECDSA.Leaf)
		}
	}
	return []testCase{
		{"TLS13", run(tls.VersionTLS13)},
		{"TLS12", run(tls.VersionTLS12)},
		{"TLS12SuiteNarrowed", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.CipherSuites = []string{"ECDHE-ECDSA-CHACHA20-POLY1305"} // OpenSSL spelling on purpose
			ccfg := baseClient(p)
			ccfg.MaxVersion = tls.VersionTLS12
			r := pair(t, b, scfg, ccfg, NameECDSA)
			requireOK(t, r)
			assert.Equal(t, stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, r.Client.CipherSuite)
			assert.Equal(t, stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, r.Server.CipherSuite)
		}},
		{"TLS13DefaultWhenBothCan", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			r := pair(t, b, baseServer(p), baseClient(p), NameECDSA)
			requireOK(t, r)
			assert.Equal(t, uint16(tls.VersionTLS13), r.Client.Version)
			assert.Equal(t, uint16(tls.VersionTLS13), r.Server.Version)
		}},
	}
}

// weakPeer describes an adversary: a raw crypto/tls peer with settings no
// Gantry policy allows. ctrl proves the adversary is real: the same
// settings against a raw crypto/tls peer that allows them do connect.
type weakPeer struct {
	name     string
	min, max uint16
	suites   []uint16
	cert     func(*PKI) tls.Certificate
}

var weakPeers = []weakPeer{
	{"TLS10", stdtls.VersionTLS10, stdtls.VersionTLS10, nil, func(p *PKI) tls.Certificate { return p.ServerECDSA }},
	{"TLS11", stdtls.VersionTLS11, stdtls.VersionTLS11, nil, func(p *PKI) tls.Certificate { return p.ServerECDSA }},
	{"CBC", stdtls.VersionTLS12, stdtls.VersionTLS12,
		[]uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
		func(p *PKI) tls.Certificate { return p.ServerECDSA }},
	{"StaticRSA", stdtls.VersionTLS12, stdtls.VersionTLS12,
		[]uint16{stdtls.TLS_RSA_WITH_AES_128_GCM_SHA256, stdtls.TLS_RSA_WITH_AES_256_GCM_SHA384},
		func(p *PKI) tls.Certificate { return p.ServerRSA }},
}

// control checks that a raw crypto/tls client and server, both with the
// weak settings, do connect: otherwise the refusal proves nothing.
func (w weakPeer) control(t *testing.T, p *PKI) {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	sc := stdtls.Server(srvRaw, &stdtls.Config{
		Certificates: []stdtls.Certificate{stdCert(w.cert(p))},
		MinVersion:   w.min, MaxVersion: w.max, CipherSuites: w.suites,
	})
	cc := stdtls.Client(cliRaw, &stdtls.Config{
		InsecureSkipVerify: true, MinVersion: w.min, MaxVersion: w.max, CipherSuites: w.suites,
	})
	defer sc.Close()
	defer cc.Close()
	srvErr, cliErr := runPair(sc, cc)
	require.NoError(t, srvErr, "control: raw server with %s", w.name)
	require.NoError(t, cliErr, "control: raw client with %s", w.name)
}

func policyCases() []testCase {
	var cases []testCase
	for _, w := range weakPeers {
		cases = append(cases, testCase{"ServerRefuses" + w.name, func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			w.control(t, p)
			scfg := &tls.ServerConfig{Certificates: []tls.Certificate{w.cert(p)}, Policy: tls.PolicyIntermediate}
			srvErr, cliErr := rawVsServer(t, newServer(t, b, scfg), &stdtls.Config{
				InsecureSkipVerify: true, MinVersion: w.min, MaxVersion: w.max, CipherSuites: w.suites,
			})
			assert.Error(t, srvErr, "server accepted a %s client", w.name)
			assert.Error(t, cliErr, "raw %s client connected", w.name)
		}})
		cases = append(cases, testCase{"ClientRefuses" + w.name, func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			srvErr, cliErr := rawVsClient(t, &stdtls.Config{
				Certificates: []stdtls.Certificate{stdCert(w.cert(p))},
				MinVersion:   w.min, MaxVersion: w.max, CipherSuites: w.suites,
			}, newClient(t, b, &tls.ClientConfig{RootCAs: p.Roots(), Policy: tls.PolicyIntermediate}), w.cert(p).Leaf.DNSNames[0])
			assert.Error(t, srvErr, "raw %s server connected", w.name)
			assert.Error(t, cliErr, "client accepted a %s server", w.name)
		}})
	}
	return append(cases,
		testCase{"ModernServerRefusesTLS12Client", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.Policy = tls.PolicyModern
			ccfg := baseClient(p)
			ccfg.MaxVersion = tls.VersionTLS12
			requireRefused(t, pair(t, b, scfg, ccfg, NameECDSA))
		}},
		testCase{"ModernServerRefusesRawTLS12", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.Policy = tls.PolicyModern
			srvErr, cliErr := rawVsServer(t, newServer(t, b, scfg), &stdtls.Config{
				InsecureSkipVerify: true, MaxVersion: stdtls.VersionTLS12,
			})
			assert.Error(t, srvErr)
			assert.Error(t, cliErr)
		}},
		testCase{"ModernClientRefusesTLS12Server", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			ccfg := baseClient(p)
			ccfg.Policy = tls.PolicyModern
			srvErr, cliErr := rawVsClient(t, &stdtls.Config{
				Certificates: []stdtls.Certificate{stdCert(p.ServerECDSA)}, MaxVersion: stdtls.VersionTLS12,
			}, newClient(t, b, ccfg), NameECDSA)
			assert.Error(t, srvErr)
			assert.Error(t, cliErr)
		}},
		testCase{"ModernPairUsesTLS13", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.Policy = tls.PolicyModern
			ccfg := baseClient(p)
			ccfg.Policy = tls.PolicyModern
			r := pair(t, b, scfg, ccfg, NameECDSA)
			requireOK(t, r)
			assert.Equal(t, uint16(tls.VersionTLS13), r.Server.Version)
		}},
	)
}

// isGREASE reports RFC 8701 values, which a client may offer at random.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func groupCases(b tls.Backend) []testCase {
	caps := b.Capabilities()
	var cases []testCase
	for _, g := range []tls.Group{tls.X25519, tls.P256, tls.P384, tls.X25519MLKEM768} {
		if !caps.HasGroup(g) {
			if g != tls.X25519MLKEM768 {
				cases = append(cases, testCase{string(g), func(t *testing.T, b tls.Backend) {
					t.Errorf("backend %s lacks %s, which every backend must have", b.Name(), g)
				}})
			}
			continue
		}
		versions := []uint16{tls.VersionTLS13, tls.VersionTLS12}
		if g == tls.X25519MLKEM768 {
			versions = versions[:1] // a TLS 1.3 only group
		}
		for _, v := range versions {
			cases = append(cases, testCase{fmt.Sprintf("%s/%s", g, versionName(v)), func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				scfg := baseServer(p)
				scfg.Groups = []string{string(g)}
				ccfg := baseClient(p)
				ccfg.Groups = []string{string(g)}
				ccfg.MaxVersion = v
				r := pair(t, b, scfg, ccfg, NameECDSA)
				requireOK(t, r)
				assert.Equal(t, g.CurveID(), r.Server.CurveID, "server CurveID")
				assert.Equal(t, g.CurveID(), r.Client.CurveID, "client CurveID")
				assert.Equal(t, v, r.Client.Version)
			}})
		}
	}
	return append(cases,
		testCase{"ClientOffersOnlyCapabilities", func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			caps := b.Capabilities()
			hellos := make(chan *stdtls.ClientHelloInfo, 1)
			conf := &stdtls.Config{
				Certificates: []stdtls.Certificate{stdCert(p.ServerECDSA)},
				GetConfigForClient: func(h *stdtls.ClientHelloInfo) (*stdtls.Config, error) {
					hellos <- h
					return nil, nil
				},
			}
			srvErr, cliErr := rawVsClient(t, conf, newClient(t, b, baseClient(p)), NameECDSA)
			require.NoError(t, srvErr)
			require.NoError(t, cliErr)
			h := <-hellos
			require.NotEmpty(t, h.SupportedCurves)
			for _, id := range h.SupportedCurves {
				if isGREASE(uint16(id)) {
					continue
				}
				g, known := tls.GroupByCurveID(id)
				assert.True(t, known && caps.HasGroup(g), "client offered group %v outside its capabilities", id)
			}
			for _, v := range h.SupportedVersions {
				if !isGREASE(v) {
					assert.Contains(t, caps.Versions, v, "client offered version 0x%04x", v)
				}
			}
			for _, id := range h.CipherSuites {
				if isGREASE(id) || id == 0x00ff { // renegotiation SCSV, not a suite
					continue
				}
				assert.Contains(t, caps.CipherSuites, id, "client offered suite 0x%04x", id)
			}
		}},
		testCase{"ServerRetriesForMissingShare", func(t *testing.T, b tls.Backend) {
			// The raw client's first key share is P-521, which no backend
			// has: the server must ask again (HelloRetryRequest) for a group
			// it does have.
			p := NewPKI(t)
			s := newServer(t, b, baseServer(p))
			srvRaw, cliRaw := tcpPair(t)
			sc := s.Server(srvRaw)
			cc := stdtls.Client(cliRaw, &stdtls.Config{
				InsecureSkipVerify: true, MinVersion: stdtls.VersionTLS13,
				CurvePreferences: []stdtls.CurveID{stdtls.CurveP521, stdtls.CurveP256},
			})
			defer sc.Close()
			defer cc.Close()
			srvErr, cliErr := runPair(sc, cc)
			require.NoError(t, srvErr)
			require.NoError(t, cliErr)
			assert.Equal(t, stdtls.CurveP256, cc.ConnectionState().CurveID)
			assert.Equal(t, stdtls.CurveP256, sc.ConnectionState().CurveID)
		}},
	)
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLS12"
	case tls.VersionTLS13:
		return "TLS13"
	}
	return fmt.Sprintf("0x%04x", v)
}

func alpnCases() []testCase {
	tc := []struct {
		name     string
		srv, cli []string
		want     string
		refused  bool
	}{
		{"ServerPreference", []string{"h2", "http/1.1"}, []string{"http/1.1", "h2"}, "h2", false},
		{"Agreement", []string{"h2", "http/1.1"}, []string{"http/1.1"}, "http/1.1", false},
		{"NoOverlapRefused", []string{"h2"}, []string{"spdy/3", "gantry/1"}, "", true},
		// crypto/tls alone would let this one through without ALPN.
		{"NoOverlapHTTP11Refused", []string{"h2"}, []string{"http/1.1"}, "", true},
		{"ClientWithoutALPN", []string{"h2", "http/1.1"}, nil, "", false},
		{"ServerWithoutALPN", nil, []string{"h2"}, "", false},
	}
	var cases []testCase
	for _, c := range tc {
		cases = append(cases, testCase{c.name, func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.ALPN = c.srv
			ccfg := baseClient(p)
			ccfg.ALPN = c.cli
			r := pair(t, b, scfg, ccfg, NameECDSA)
			if c.refused {
				requireRefused(t, r)
				return
			}
			requireOK(t, r)
			assert.Equal(t, c.want, r.Server.NegotiatedProtocol)
			assert.Equal(t, c.want, r.Client.NegotiatedProtocol)
		}})
	}
	return cases
}

func sniCases() []testCase {
	type sni struct {
		name, serverName string
		leaf             func(*PKI) tls.Certificate
		sentSNI          string
		noHostname       bool
	}
	tc := []sni{
		{"PicksRSA", NameRSA, func(p *PKI) tls.Certificate { return p.ServerRSA }, NameRSA, false},
		{"PicksOther", NameOther, func(p *PKI) tls.Certificate { return p.ServerOther }, NameOther, false},
		{"PicksFirstByName", NameECDSA, func(p *PKI) tls.Certificate { return p.ServerECDSA }, NameECDSA, false},
		{"DefaultWithoutSNI", "127.0.0.1", func(p *PKI) tls.Certificate { return p.ServerECDSA }, "", false},
		{"DefaultForUnknownName", NameWrong, func(p *PKI) tls.Certificate { return p.ServerECDSA }, NameWrong, true},
	}
	var cases []testCase
	for _, c := range tc {
		cases = append(cases, testCase{c.name, func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			scfg := &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA, p.ServerRSA, p.ServerOther}}
			ccfg := baseClient(p)
			ccfg.DisableVerifyHostname = c.noHostname
			r := pair(t, b, scfg, ccfg, c.serverName)
			requireOK(t, r)
			assert.Equal(t, c.sentSNI, r.Server.ServerName, "SNI seen by the server")
			require.NotEmpty(t, r.Client.PeerCertificates)
			want := c.leaf(p).Leaf
			assert.True(t, want.Equal(r.Client.PeerCertificates[0]), "served %s, want %s",
				r.Client.PeerCertificates[0].Subject.CommonName, want.Subject.CommonName)
			assert.NotEmpty(t, r.Client.VerifiedChains)
		}})
	}
	return cases
}

func keyCases() []testCase {
	var cases []testCase
	for _, k := range []struct {
		name string
		cert func(*PKI) tls.Certificate
		alg  x509.PublicKeyAlgorithm
	}{
		{"ECDSA", func(p *PKI) tls.Certificate { return p.ServerECDSA }, x509.ECDSA},
		{"RSA", func(p *PKI) tls.Certificate { return p.ServerRSA }, x509.RSA},
	} {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			cases = append(cases, testCase{k.name + "/" + versionName(v), func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				cert := k.cert(p)
				ccfg := baseClient(p)
				ccfg.MaxVersion = v
				r := pair(t, b, &tls.ServerConfig{Certificates: []tls.Certificate{cert}}, ccfg, cert.Leaf.DNSNames[0])
				requireOK(t, r)
				require.NotEmpty(t, r.Client.PeerCertificates)
				assert.Equal(t, k.alg, r.Client.PeerCertificates[0].PublicKeyAlgorithm)
				if v == tls.VersionTLS12 {
					s, _ := tls.SuiteByID(r.Client.CipherSuite)
					assert.Contains(t, s.Name, "_"+k.name+"_", "TLS 1.2 suite matches the key")
				}
			}})
		}
	}
	return append(cases, testCase{"IntermediateChain", func(t *testing.T, b tls.Backend) {
		p := NewPKI(t)
		ccfg := &tls.ClientConfig{RootCAs: []*x509.Certificate{p.ECDSACA}}
		r := pair(t, b, &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerChain}}, ccfg, NameChain)
		requireOK(t, r)
		assert.Len(t, r.Client.PeerCertificates, 2, "leaf and intermediate are sent")
		require.NotEmpty(t, r.Client.VerifiedChains)
		chain := r.Client.VerifiedChains[0]
		require.Len(t, chain, 3)
		assert.True(t, p.Intermediate.Equal(chain[1]))
		assert.True(t, p.ECDSACA.Equal(chain[2]))
	}})
}
