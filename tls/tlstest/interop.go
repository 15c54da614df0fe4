package tlstest

import (
	"crypto/sha256"
	"io"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// interopCase runs one check with a server of srv and a client of cli.
type interopCase struct {
	name string
	run  func(t *testing.T, srv, cli tls.Backend, texts *verifyTexts)
}

// verifyTexts collects, per client backend, the text of its refusal of an
// unknown CA, which must be the same for all.
type verifyTexts struct {
	mu    sync.Mutex
	texts map[string]string // "client->server" to text
}

func (v *verifyTexts) add(key, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.texts[key] = text
}

// Interop runs a server of every backend against a client of every
// backend, same-backend pairs included: TLS 1.2 and 1.3, ALPN, SNI, mutual
// TLS, resumption, a verification failure worded the same by every client,
// and a 1 MiB echo.
func Interop(t *testing.T, backends ...tls.Backend) {
	require.NotEmpty(t, backends, "no backend to test")
	NewPKI(t)
	texts := &verifyTexts{texts: map[string]string{}}
	for _, cli := range backends {
		t.Run("client="+cli.Name(), func(t *testing.T) {
			for _, srv := range backends {
				t.Run("server="+srv.Name(), func(t *testing.T) {
					for _, c := range interopCases() {
						t.Run(c.name, func(t *testing.T) { c.run(t, srv, cli, texts) })
					}
				})
			}
		})
	}
	t.Run("SameVerifyErrorText", func(t *testing.T) {
		texts.mu.Lock()
		defer texts.mu.Unlock()
		require.Len(t, texts.texts, len(backends)*len(backends), "every pair reported a refusal")
		keys := make([]string, 0, len(texts.texts))
		for k := range texts.texts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys[1:] {
			assert.Equal(t, texts.texts[keys[0]], texts.texts[k], "%s and %s word the same refusal differently", keys[0], k)
		}
	})
}

// across builds a server of srv and a client of cli and runs one Exchange.
func across(t *testing.T, srv, cli tls.Backend, scfg *tls.ServerConfig, ccfg *tls.ClientConfig, name string) Result {
	t.Helper()
	return Exchange(t, newServer(t, srv, scfg), newClient(t, cli, ccfg), name)
}

func interopCases() []interopCase {
	version := func(v uint16) func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
		return func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.ALPN = []string{"h2", "http/1.1"}
			ccfg := baseClient(p)
			ccfg.ALPN = []string{"http/1.1", "h2"}
			ccfg.MaxVersion = v
			r := across(t, srv, cli, scfg, ccfg, NameECDSA)
			requireOK(t, r)
			assertState(t, r, v, NameECDSA, "h2", p.ServerECDSA.Leaf)
		}
	}
	resume := func(v uint16) func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
		return func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			p := NewPKI(t)
			ccfg := baseClient(p)
			ccfg.MaxVersion = v
			first, second := connectTwice(t, newServer(t, srv, baseServer(p)), newClient(t, cli, ccfg))
			assert.False(t, first.Server.DidResume)
			assert.True(t, second.Client.DidResume, "client resumed")
			assert.True(t, second.Server.DidResume, "server resumed")
			assert.NotEmpty(t, second.Client.VerifiedChains)
		}
	}
	return []interopCase{
		{"TLS12", version(tls.VersionTLS12)},
		{"TLS13", version(tls.VersionTLS13)},
		{"ALPNNoOverlap", func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.ALPN = []string{"h2"}
			ccfg := baseClient(p)
			ccfg.ALPN = []string{"http/1.1"}
			requireRefused(t, across(t, srv, cli, scfg, ccfg, NameECDSA))
		}},
		{"SNI", func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			p := NewPKI(t)
			scfg := &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA, p.ServerRSA, p.ServerOther}}
			for _, want := range []tls.Certificate{p.ServerRSA, p.ServerOther, p.ServerECDSA} {
				name := want.Leaf.DNSNames[0]
				r := across(t, srv, cli, scfg, baseClient(p), name)
				requireOK(t, r)
				assert.Equal(t, name, r.Server.ServerName)
				require.NotEmpty(t, r.Client.PeerCertificates)
				assert.True(t, want.Leaf.Equal(r.Client.PeerCertificates[0]), "certificate for %s", name)
			}
		}},
		{"Groups", func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			p := NewPKI(t)
			n := 0
			for _, g := range srv.Capabilities().Groups {
				if !cli.Capabilities().HasGroup(g) {
					continue
				}
				n++
				scfg := baseServer(p)
				scfg.Groups = []string{string(g)}
				ccfg := baseClient(p)
				ccfg.Groups = []string{string(g)}
				r := across(t, srv, cli, scfg, ccfg, NameECDSA)
				requireOK(t, r)
				assert.Equal(t, g.CurveID(), r.Client.CurveID, "group %s", g)
				assert.Equal(t, g.CurveID(), r.Server.CurveID, "group %s", g)
			}
			assert.GreaterOrEqual(t, n, 3, "X25519, P-256 and P-384 are common to every backend")
		}},
		{"MutualTLS", func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			p := NewPKI(t)
			scfg := baseServer(p)
			scfg.ClientAuth = tls.ClientAuthRequireAndVerify
			scfg.ClientCAs = p.Roots()
			for _, cert := range []tls.Certificate{p.ClientECDSA, p.ClientRSA} {
				ccfg := baseClient(p)
				ccfg.Certificate = &cert
				r := across(t, srv, cli, scfg, ccfg, NameECDSA)
				requireOK(t, r)
				require.NotEmpty(t, r.Server.VerifiedChains)
				assert.True(t, cert.Leaf.Equal(r.Server.VerifiedChains[0][0]))
			}
			ccfg := baseClient(p)
			ccfg.Certificate = &p.ClientUntrusted
			r := across(t, srv, cli, scfg, ccfg, NameECDSA)
			requireRefused(t, r)
			assertVerifyError(t, r.ServerErr, tls.AlertUnknownCA, nil)
		}},
		{"ResumptionTLS13", resume(tls.VersionTLS13)},
		{"ResumptionTLS12", resume(tls.VersionTLS12)},
		{"UnknownCARefused", func(t *testing.T, srv, cli tls.Backend, texts *verifyTexts) {
			p := NewPKI(t)
			ccfg := baseClient(p)
			r := across(t, srv, cli, &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerUntrusted}}, ccfg, NameUntrusted)
			requireRefused(t, r)
			assertVerifyError(t, r.ClientErr, tls.AlertUnknownCA, expectedServerRefusal(t, ccfg, p.ServerUntrusted, NameUntrusted))
			if verr, ok := errorsAs[*tls.VerifyError](r.ClientErr); ok {
				texts.add(cli.Name()+"->"+srv.Name(), verr.Error())
			}
		}},
		{"Echo1MiB", func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
			sc, cc := openPair(t, srv, cli)
			const n = 1 << 20
			echoErr := make(chan error, 1)
			go func() {
				_, err := io.CopyN(sc, sc, n)
				echoErr <- err
			}()
			recvSum := make(chan []byte, 1)
			recvErr := make(chan error, 1)
			go func() {
				h := sha256.New()
				_, err := io.CopyN(h, cc, n)
				recvErr <- err
				recvSum <- h.Sum(nil)
			}()
			sent, err := stream(cc, 7, n, 4093)
			require.NoError(t, err)
			require.NoError(t, <-echoErr, "server echo")
			require.NoError(t, <-recvErr, "client receive")
			assert.Equal(t, sent, <-recvSum, "echoed bytes match")
		}},
		{"CT/TLS13", ctInterop(tls.VersionTLS13)},
		{"CT/TLS12", ctInterop(tls.VersionTLS12)},
	}
}
