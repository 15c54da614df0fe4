package tlstest

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/gantry-proxy/gantry/tls"
)

// ctLogs are three logs of a case: A and B are configured, C is not.
type ctLogs struct{ a, b, c *CTLog }

func newCTLogs(t *testing.T) ctLogs {
	t.Helper()
	var ls ctLogs
	for _, l := range []**CTLog{&ls.a, &ls.b, &ls.c} {
		var err error
		*l, err = NewCTLog(map[**CTLog]string{&ls.a: "log-a", &ls.b: "log-b", &ls.c: "log-c"}[l])
		require.NoError(t, err)
	}
	return ls
}

// policy requires min SCTs from distinct logs among A and B.
func (ls ctLogs) policy(min int) *tls.CTPolicy {
	return &tls.CTPolicy{MinSCTs: min, Logs: []tls.CTLog{ls.a.Config(), ls.b.Config()}}
}

func sctsFor(t *testing.T, der []byte, logs ...*CTLog) [][]byte {
	t.Helper()
	var out [][]byte
	for _, l := range logs {
		sct, err := l.SCTForCert(der)
		require.NoError(t, err)
		out = append(out, sct)
	}
	return out
}

// ctClient is the suite's client with a CT policy, at version v.
func ctClient(p *PKI, pol *tls.CTPolicy, v uint16) *tls.ClientConfig {
	ccfg := baseClient(p)
	ccfg.CT = pol
	ccfg.MaxVersion = v
	return ccfg
}

// ctServer serves ServerECDSA with scts in the TLS extension.
func ctServer(p *PKI, scts [][]byte) *tls.ServerConfig {
	cert := p.ServerECDSA
	cert.SCTs = scts
	return &tls.ServerConfig{Certificates: []tls.Certificate{cert}}
}

// requireCTRefusal checks that the client refused with a *tls.CTError
// and returns it.
func requireCTRefusal(t *testing.T, err error) *tls.CTError {
	t.Helper()
	require.Error(t, err, "client must refuse")
	var verr *tls.VerifyError
	require.ErrorAs(t, err, &verr)
	var cterr *tls.CTError
	require.ErrorAs(t, err, &cterr, "want a *tls.CTError, got %v", err)
	return cterr
}

// ocspWithSCTs is a good OCSP response for leaf by ECDSACA carrying scts.
func ocspWithSCTs(t *testing.T, p *PKI, leaf tls.Certificate, scts [][]byte) []byte {
	t.Helper()
	ext, err := SCTListExtension(OIDOCSPSCTs, scts...)
	require.NoError(t, err)
	now := time.Now()
	ca := p.issuerOfECDSACA()
	resp, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: leaf.Leaf.SerialNumber,
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		ExtraExtensions: []pkix.Extension{ext},
	}, ca.key)
	require.NoError(t, err)
	return resp
}

func ctCases() []testCase {
	var cases []testCase
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		vn := versionName(v)
		cases = append(cases,
			testCase{vn + "/TLSExtension", func(t *testing.T, b tls.Backend) {
				// The backend serves SCTs and checks them, on both ends.
				p, ls := NewPKI(t), newCTLogs(t)
				scts := sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.b)
				r := pair(t, b, ctServer(p, scts), ctClient(p, ls.policy(2), v), NameECDSA)
				requireOK(t, r)
				assert.Equal(t, scts, r.Client.SignedCertificateTimestamps)
			}},
			testCase{vn + "/ServedToCryptoTLS", func(t *testing.T, b tls.Backend) {
				p, ls := NewPKI(t), newCTLogs(t)
				scts := sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.c)
				var seen [][]byte
				conf := &stdtls.Config{ServerName: NameECDSA, RootCAs: rootPool(p), MaxVersion: v,
					VerifyConnection: func(cs stdtls.ConnectionState) error {
						seen = cs.SignedCertificateTimestamps
						return nil
					}}
				srvErr, cliErr := rawVsServer(t, newServer(t, b, ctServer(p, scts)), conf)
				require.NoError(t, srvErr)
				require.NoError(t, cliErr)
				assert.Equal(t, scts, seen, "crypto/tls client sees the SCTs served")
			}},
			testCase{vn + "/FromCryptoTLSOrigin", func(t *testing.T, b tls.Backend) {
				p, ls := NewPKI(t), newCTLogs(t)
				cert := stdCert(p.ServerECDSA)
				cert.SignedCertificateTimestamps = sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.b)
				srvErr, cliErr := rawVsClient(t, &stdtls.Config{Certificates: []stdtls.Certificate{cert}},
					newClient(t, b, ctClient(p, ls.policy(2), v)), NameECDSA)
				require.NoError(t, srvErr)
				require.NoError(t, cliErr)
			}},
			testCase{vn + "/OCSPStaple", func(t *testing.T, b tls.Backend) {
				p, ls := NewPKI(t), newCTLogs(t)
				cert := stdCert(p.ServerECDSA)
				cert.OCSPStaple = ocspWithSCTs(t, p, p.ServerECDSA, sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.b))
				srvErr, cliErr := rawVsClient(t, &stdtls.Config{Certificates: []stdtls.Certificate{cert}},
					newClient(t, b, ctClient(p, ls.policy(2), v)), NameECDSA)
				require.NoError(t, srvErr)
				require.NoError(t, cliErr)
			}},
			testCase{vn + "/OCSPStapleTooFew", func(t *testing.T, b tls.Backend) {
				// Without the staple's SCTs the policy fails: it was they
				// that passed it above.
				p, ls := NewPKI(t), newCTLogs(t)
				cert := stdCert(p.ServerECDSA)
				cert.OCSPStaple = ocspWithSCTs(t, p, p.ServerECDSA, sctsFor(t, p.ServerECDSA.Chain[0], ls.a))
				_, cliErr := rawVsClient(t, &stdtls.Config{Certificates: []stdtls.Certificate{cert}},
					newClient(t, b, ctClient(p, ls.policy(2), v)), NameECDSA)
				e := requireCTRefusal(t, cliErr)
				assert.Equal(t, []string{"log-a"}, e.ValidLogs)
			}},
			testCase{vn + "/Resumed", func(t *testing.T, b tls.Backend) {
				// A resumed session carries no certificate to check again: it
				// was made by a handshake that passed.
				p, ls := NewPKI(t), newCTLogs(t)
				scts := sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.b)
				first, second := connectTwice(t, newServer(t, b, ctServer(p, scts)), newClient(t, b, ctClient(p, ls.policy(2), v)))
				assert.False(t, first.Client.DidResume)
				assert.True(t, second.Client.DidResume, "client resumed")
			}},
		)
	}
	cases = append(cases,
		testCase{"Embedded", func(t *testing.T, b tls.Backend) {
			p, ls := NewPKI(t), newCTLogs(t)
			cert, err := p.LeafWithEmbeddedSCTs([]string{NameECDSA}, ls.a, ls.b)
			require.NoError(t, err)
			r := pair(t, b, &tls.ServerConfig{Certificates: []tls.Certificate{cert}}, ctClient(p, ls.policy(2), 0), NameECDSA)
			requireOK(t, r)
			assert.Empty(t, r.Client.SignedCertificateTimestamps, "no SCT came by the TLS extension")
		}},
		testCase{"EmbeddedAndExtension", func(t *testing.T, b tls.Backend) {
			// One log's SCT embedded, the other's in the extension.
			p, ls := NewPKI(t), newCTLogs(t)
			cert, err := p.LeafWithEmbeddedSCTs([]string{NameECDSA}, ls.a)
			require.NoError(t, err)
			cert.SCTs = sctsFor(t, cert.Chain[0], ls.b)
			requireOK(t, pair(t, b, &tls.ServerConfig{Certificates: []tls.Certificate{cert}}, ctClient(p, ls.policy(2), 0), NameECDSA))
		}},
		testCase{"PerCertificate", func(t *testing.T, b tls.Backend) {
			// Each certificate is served with its own SCTs, whichever SNI
			// picks.
			p, ls := NewPKI(t), newCTLogs(t)
			ecdsa, other := p.ServerECDSA, p.ServerOther
			ecdsa.SCTs = sctsFor(t, ecdsa.Chain[0], ls.a)
			other.SCTs = sctsFor(t, other.Chain[0], ls.b)
			scfg := &tls.ServerConfig{Certificates: []tls.Certificate{ecdsa, other}}
			for name, want := range map[string][][]byte{NameECDSA: ecdsa.SCTs, NameOther: other.SCTs} {
				r := pair(t, b, scfg, ctClient(p, ls.policy(1), 0), name)
				requireOK(t, r)
				assert.Equal(t, want, r.Client.SignedCertificateTimestamps, name)
			}
		}},
		testCase{"TooFew", func(t *testing.T, b tls.Backend) {
			p, ls := NewPKI(t), newCTLogs(t)
			r := pair(t, b, ctServer(p, sctsFor(t, p.ServerECDSA.Chain[0], ls.a)), ctClient(p, ls.policy(2), 0), NameECDSA)
			e := requireCTRefusal(t, r.ClientErr)
			assert.Equal(t, []string{"log-a"}, e.ValidLogs)
			assert.Contains(t, e.Error(), "1 valid SCTs from distinct configured logs, 2 required")
		}},
		testCase{"SameLogTwice", func(t *testing.T, b tls.Backend) {
			p, ls := NewPKI(t), newCTLogs(t)
			r := pair(t, b, ctServer(p, sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.a)), ctClient(p, ls.policy(2), 0), NameECDSA)
			assert.Equal(t, []string{"log-a"}, requireCTRefusal(t, r.ClientErr).ValidLogs)
		}},
		testCase{"UnconfiguredLog", func(t *testing.T, b tls.Backend) {
			p, ls := NewPKI(t), newCTLogs(t)
			r := pair(t, b, ctServer(p, sctsFor(t, p.ServerECDSA.Chain[0], ls.a, ls.c)), ctClient(p, ls.policy(2), 0), NameECDSA)
			e := requireCTRefusal(t, r.ClientErr)
			require.Len(t, e.Problems, 1)
			assert.Contains(t, e.Problems[0], "tls extension: SCT from log ")
			assert.Contains(t, e.Problems[0], "which is not configured")
		}},
		testCase{"BadSignature", func(t *testing.T, b tls.Backend) {
			// Log B's SCT is for another certificate.
			p, ls := NewPKI(t), newCTLogs(t)
			scts := append(sctsFor(t, p.ServerECDSA.Chain[0], ls.a), sctsFor(t, p.ServerOther.Chain[0], ls.b)...)
			r := pair(t, b, ctServer(p, scts), ctClient(p, ls.policy(2), 0), NameECDSA)
			e := requireCTRefusal(t, r.ClientErr)
			assert.Equal(t, []string{`tls extension: log "log-b": SCT signature does not verify`}, e.Problems)
		}},
		testCase{"NoSCT", func(t *testing.T, b tls.Backend) {
			p, ls := NewPKI(t), newCTLogs(t)
			r := pair(t, b, baseServer(p), ctClient(p, ls.policy(1), 0), NameECDSA)
			assert.Contains(t, requireCTRefusal(t, r.ClientErr).Error(), "the server gave no SCT")
		}},
	)
	return cases
}

// rootPool is the suite's roots for a raw crypto/tls client.
func rootPool(p *PKI) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range p.Roots() {
		pool.AddCert(c)
	}
	return pool
}

// ctInterop: SCTs served by a server of srv (one embedded, one in the
// extension) pass the policy of a client of cli, and a resumed session
// needs none.
func ctInterop(v uint16) func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
	return func(t *testing.T, srv, cli tls.Backend, _ *verifyTexts) {
		p, ls := NewPKI(t), newCTLogs(t)
		cert, err := p.LeafWithEmbeddedSCTs([]string{NameECDSA}, ls.a)
		require.NoError(t, err)
		cert.SCTs = sctsFor(t, cert.Chain[0], ls.b)
		s := newServer(t, srv, &tls.ServerConfig{Certificates: []tls.Certificate{cert}})
		c := newClient(t, cli, ctClient(p, ls.policy(2), v))
		first, second := connectTwice(t, s, c)
		assert.Equal(t, cert.SCTs, first.Client.SignedCertificateTimestamps)
		assert.True(t, second.Client.DidResume)
		tooFew := newClient(t, cli, ctClient(p, &tls.CTPolicy{MinSCTs: 2, Logs: []tls.CTLog{ls.a.Config(), ls.c.Config()}}, v))
		requireCTRefusal(t, Exchange(t, s, tooFew, NameECDSA).ClientErr)
	}
}
