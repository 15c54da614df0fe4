package tlstest

import (
	"crypto/rand"
	stdtls "crypto/tls"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// assertVerifyError checks that err carries a *tls.VerifyError with the
// given alert, and that its text is exactly what the shared verifier says
// for the same chain: every backend must report the same words.
func assertVerifyError(t *testing.T, err error, alert tls.Alert, want error) {
	t.Helper()
	var verr *tls.VerifyError
	require.ErrorAs(t, err, &verr, "want a *tls.VerifyError, got %v", err)
	assert.Equal(t, alert, verr.Alert, "alert for %v", verr)
	if want != nil {
		assert.Equal(t, want.Error(), verr.Error(), "message differs from the shared verifier's")
	}
}

// expectedServerRefusal is what tls.PeerVerifier says about cert for a
// client configured with ccfg, computed without any backend.
func expectedServerRefusal(t *testing.T, ccfg *tls.ClientConfig, cert tls.Certificate, serverName string) error {
	t.Helper()
	_, _, err := tls.NewServerVerifier(ccfg).Verify(cert.Chain, serverName)
	require.Error(t, err, "precondition: the shared verifier refuses this chain")
	return err
}

func clientAuthCases() []testCase {
	type presented int
	const (
		noCert presented = iota
		trusted
		untrusted
	)
	names := map[presented]string{noCert: "NoCert", trusted: "Trusted", untrusted: "Untrusted"}
	type outcome int
	const (
		accepted   outcome = iota // no verified chain
		verified                  // verified chain reported
		noCertRef                 // refused: certificate required
		unknownRef                // refused: unknown CA
	)
	table := []struct {
		mode tls.ClientAuthMode
		want map[presented]outcome
	}{
		{tls.ClientAuthNone, map[presented]outcome{noCert: accepted, trusted: accepted, untrusted: accepted}},
		{tls.ClientAuthRequest, map[presented]outcome{noCert: accepted, trusted: accepted, untrusted: accepted}},
		{tls.ClientAuthRequire, map[presented]outcome{noCert: noCertRef, trusted: accepted, untrusted: accepted}},
		{tls.ClientAuthVerifyIfGiven, map[presented]outcome{noCert: accepted, trusted: verified, untrusted: unknownRef}},
		{tls.ClientAuthRequireAndVerify, map[presented]outcome{noCert: noCertRef, trusted: verified, untrusted: unknownRef}},
	}
	var cases []testCase
	for _, row := range table {
		for _, pres := range []presented{noCert, trusted, untrusted} {
			want := row.want[pres]
			cases = append(cases, testCase{row.mode.String() + "/" + names[pres], func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				scfg := baseServer(p)
				scfg.ClientAuth = row.mode
				scfg.ClientCAs = p.Roots()
				ccfg := baseClient(p)
				var cert tls.Certificate
				switch pres {
				case trusted:
					cert = p.ClientECDSA
				case untrusted:
					cert = p.ClientUntrusted
				}
				if pres != noCert {
					ccfg.Certificate = &cert
				}
				r := pair(t, b, scfg, ccfg, NameECDSA)
				switch want {
				case accepted, verified:
					requireOK(t, r)
					if row.mode == tls.ClientAuthNone || pres == noCert {
						assert.Empty(t, r.Server.PeerCertificates, "server saw a client certificate")
					} else {
						require.NotEmpty(t, r.Server.PeerCertificates)
						assert.True(t, cert.Leaf.Equal(r.Server.PeerCertificates[0]))
					}
					if want == verified {
						require.NotEmpty(t, r.Server.VerifiedChains, "server reports the verified client chain")
						assert.True(t, cert.Leaf.Equal(r.Server.VerifiedChains[0][0]))
					} else {
						assert.Empty(t, r.Server.VerifiedChains, "mode %s does not verify", row.mode)
					}
				case noCertRef:
					requireRefused(t, r)
					assertVerifyError(t, r.ServerErr, tls.AlertCertificateRequired, nil)
					assert.ErrorIs(t, r.ServerErr, tls.ErrNoCertificate)
				case unknownRef:
					requireRefused(t, r)
					_, _, want := tls.NewClientVerifier(scfg).Verify(cert.Chain, "")
					require.Error(t, want)
					assertVerifyError(t, r.ServerErr, tls.AlertUnknownCA, want)
				}
			}})
		}
	}
	cases = append(cases, testCase{"CANamesSent", func(t *testing.T, b tls.Backend) {
		// The CertificateRequest lists the client CAs, so a client with
		// several certificates can pick the right one.
		p := NewPKI(t)
		scfg := baseServer(p)
		scfg.ClientAuth = tls.ClientAuthRequireAndVerify
		scfg.ClientCAs = p.Roots()
		requests := make(chan *stdtls.CertificateRequestInfo, 1)
		client := stdCert(p.ClientECDSA)
		srvErr, cliErr := rawVsServer(t, newServer(t, b, scfg), &stdtls.Config{
			InsecureSkipVerify: true,
			GetClientCertificate: func(cri *stdtls.CertificateRequestInfo) (*stdtls.Certificate, error) {
				requests <- cri
				return &client, nil
			},
		})
		require.NoError(t, srvErr)
		require.NoError(t, cliErr)
		cri := <-requests
		assert.ElementsMatch(t, [][]byte{p.ECDSACA.RawSubject, p.RSACA.RawSubject}, cri.AcceptableCAs)
	}})
	return append(cases, testCase{"RSAClientCertificate", func(t *testing.T, b tls.Backend) {
		p := NewPKI(t)
		scfg := baseServer(p)
		scfg.ClientAuth = tls.ClientAuthRequireAndVerify
		scfg.ClientCAs = p.Roots()
		ccfg := baseClient(p)
		ccfg.Certificate = &p.ClientRSA
		r := pair(t, b, scfg, ccfg, NameECDSA)
		requireOK(t, r)
		require.NotEmpty(t, r.Server.VerifiedChains)
		assert.True(t, p.RSACA.Equal(r.Server.VerifiedChains[0][len(r.Server.VerifiedChains[0])-1]))
	}})
}

func verifyCases() []testCase {
	type vc struct {
		name       string
		cert       func(*PKI) tls.Certificate
		serverName string
		noHost     bool
		noCert     bool
		alert      tls.Alert // zero: accepted
		verified   bool      // accepted with a verified chain
	}
	ecdsa := func(p *PKI) tls.Certificate { return p.ServerECDSA }
	table := []vc{
		{name: "UnknownCA", cert: func(p *PKI) tls.Certificate { return p.ServerUntrusted }, serverName: NameUntrusted, alert: tls.AlertUnknownCA},
		{name: "Expired", cert: func(p *PKI) tls.Certificate { return p.ServerExpired }, serverName: NameExpired, alert: tls.AlertCertificateExpired},
		{name: "WrongName", cert: ecdsa, serverName: NameWrong, alert: tls.AlertBadCertificate},
		{name: "EmptyServerNameRefused", cert: ecdsa, serverName: "", alert: tls.AlertBadCertificate},
		{name: "IPAddressSAN", cert: ecdsa, serverName: "127.0.0.1", verified: true},
		{name: "IPAddressNotInSAN", cert: ecdsa, serverName: "127.0.0.2", alert: tls.AlertBadCertificate},
		{name: "NoHostname/AcceptsWrongName", cert: ecdsa, serverName: NameWrong, noHost: true, verified: true},
		{name: "NoHostname/AcceptsEmptyName", cert: ecdsa, serverName: "", noHost: true, verified: true},
		{name: "NoHostname/RefusesUnknownCA", cert: func(p *PKI) tls.Certificate { return p.ServerUntrusted }, serverName: NameWrong, noHost: true, alert: tls.AlertUnknownCA},
		{name: "NoHostname/RefusesExpired", cert: func(p *PKI) tls.Certificate { return p.ServerExpired }, serverName: NameExpired, noHost: true, alert: tls.AlertCertificateExpired},
		{name: "NoVerify/AcceptsUnknownCA", cert: func(p *PKI) tls.Certificate { return p.ServerUntrusted }, serverName: NameWrong, noCert: true},
		{name: "NoVerify/AcceptsExpired", cert: func(p *PKI) tls.Certificate { return p.ServerExpired }, serverName: NameExpired, noCert: true},
	}
	var cases []testCase
	for _, c := range table {
		cases = append(cases, testCase{c.name, func(t *testing.T, b tls.Backend) {
			p := NewPKI(t)
			cert := c.cert(p)
			ccfg := baseClient(p)
			ccfg.DisableVerifyHostname = c.noHost
			ccfg.DisableVerifyCert = c.noCert
			r := pair(t, b, &tls.ServerConfig{Certificates: []tls.Certificate{cert}}, ccfg, c.serverName)
			if c.alert != 0 {
				requireRefused(t, r)
				assertVerifyError(t, r.ClientErr, c.alert, expectedServerRefusal(t, ccfg, cert, c.serverName))
				return
			}
			requireOK(t, r)
			require.NotEmpty(t, r.Client.PeerCertificates)
			assert.True(t, cert.Leaf.Equal(r.Client.PeerCertificates[0]))
			if c.verified {
				assert.NotEmpty(t, r.Client.VerifiedChains, "verified chain reported")
			} else {
				assert.Empty(t, r.Client.VerifiedChains, "nothing was verified, so no chain may be reported")
			}
		}})
	}
	return append(cases, testCase{"ErrorNamesTheReason", func(t *testing.T, b tls.Backend) {
		p := NewPKI(t)
		r := pair(t, b, &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerUntrusted}}, baseClient(p), NameUntrusted)
		require.Error(t, r.ClientErr)
		assert.Contains(t, r.ClientErr.Error(), "unknown authority", "the wrapped error is informative")
		assert.Contains(t, r.ClientErr.Error(), "peer certificate refused")
	}})
}

// connectTwice runs two exchanges with the same Server and Client and
// returns both results.
func connectTwice(t *testing.T, s tls.Server, c tls.Client) (first, second Result) {
	t.Helper()
	first = Exchange(t, s, c, NameECDSA)
	requireOK(t, first)
	second = Exchange(t, s, c, NameECDSA)
	requireOK(t, second)
	return first, second
}

func resumptionCases() []testCase {
	var cases []testCase
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cases = append(cases,
			testCase{versionName(v) + "/Resumes", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				ccfg := baseClient(p)
				ccfg.MaxVersion = v
				first, second := connectTwice(t, newServer(t, b, baseServer(p)), newClient(t, b, ccfg))
				assert.False(t, first.Client.DidResume)
				assert.False(t, first.Server.DidResume)
				assert.True(t, second.Client.DidResume, "client resumed")
				assert.True(t, second.Server.DidResume, "server resumed")
				assert.Equal(t, v, second.Client.Version)
				require.NotEmpty(t, second.Client.PeerCertificates, "resumed conn still reports the server chain")
				assert.NotEmpty(t, second.Client.VerifiedChains, "resumed conn still reports the verified chain")
			}},
			testCase{versionName(v) + "/TicketsDisabled", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				scfg := baseServer(p)
				scfg.DisableSessionTickets = true
				ccfg := baseClient(p)
				ccfg.MaxVersion = v
				_, second := connectTwice(t, newServer(t, b, scfg), newClient(t, b, ccfg))
				assert.False(t, second.Client.DidResume)
				assert.False(t, second.Server.DidResume)
			}},
			testCase{versionName(v) + "/CacheDisabled", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				ccfg := baseClient(p)
				ccfg.MaxVersion = v
				ccfg.DisableSessionCache = true
				_, second := connectTwice(t, newServer(t, b, baseServer(p)), newClient(t, b, ccfg))
				assert.False(t, second.Client.DidResume)
				assert.False(t, second.Server.DidResume)
			}},
			testCase{versionName(v) + "/ClientCertKept", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				scfg := baseServer(p)
				scfg.ClientAuth = tls.ClientAuthRequireAndVerify
				scfg.ClientCAs = p.Roots()
				ccfg := baseClient(p)
				ccfg.MaxVersion = v
				ccfg.Certificate = &p.ClientECDSA
				_, second := connectTwice(t, newServer(t, b, scfg), newClient(t, b, ccfg))
				assert.True(t, second.Server.DidResume, "server resumed")
				require.NotEmpty(t, second.Server.PeerCertificates, "resumed conn reports the client certificate")
				assert.True(t, p.ClientECDSA.Leaf.Equal(second.Server.PeerCertificates[0]))
				assert.NotEmpty(t, second.Server.VerifiedChains, "resumed conn reports the verified client chain")
			}},
		)
	}
	return cases
}

func newTicketKey(t *testing.T) tls.SessionTicketKey {
	var k tls.SessionTicketKey
	_, err := rand.Read(k[:])
	require.NoError(t, err)
	return k
}

func ticketKeyCases() []testCase {
	var cases []testCase
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		// serverWith builds a server of b with the given ticket keys.
		serverWith := func(t *testing.T, b tls.Backend, keys ...tls.SessionTicketKey) tls.Server {
			scfg := baseServer(NewPKI(t))
			scfg.SessionTicketKeys = keys
			return newServer(t, b, scfg)
		}
		clientFor := func(t *testing.T, b tls.Backend) tls.Client {
			ccfg := baseClient(NewPKI(t))
			ccfg.MaxVersion = v
			return newClient(t, b, ccfg)
		}
		resumed := func(t *testing.T, s tls.Server, c tls.Client) bool {
			t.Helper()
			r := Exchange(t, s, c, NameECDSA)
			requireOK(t, r)
			assert.Equal(t, r.Client.DidResume, r.Server.DidResume, "both sides agree on resumption")
			return r.Server.DidResume
		}
		cases = append(cases,
			testCase{versionName(v) + "/SharedAcrossServers", func(t *testing.T, b tls.Backend) {
				k := newTicketKey(t)
				a, other := serverWith(t, b, k), serverWith(t, b, k)
				c := clientFor(t, b)
				require.False(t, resumed(t, a, c))
				assert.True(t, resumed(t, other, c), "a ticket from server A resumes on server B with the same key")
			}},
			testCase{versionName(v) + "/Rotation", func(t *testing.T, b tls.Backend) {
				k1, k2 := newTicketKey(t), newTicketKey(t)
				c := clientFor(t, b)
				require.False(t, resumed(t, serverWith(t, b, k1), c))
				assert.True(t, resumed(t, serverWith(t, b, k2, k1), c), "old ticket resumes after a new key is prepended")
				// The last conn got its ticket from the rotated server,
				// sealed with the new key.
				assert.True(t, resumed(t, serverWith(t, b, k2), c), "new tickets are sealed with the first key")
			}},
			testCase{versionName(v) + "/UnknownKeyFullHandshake", func(t *testing.T, b tls.Backend) {
				c := clientFor(t, b)
				require.False(t, resumed(t, serverWith(t, b, newTicketKey(t)), c))
				assert.False(t, resumed(t, serverWith(t, b, newTicketKey(t)), c), "a server without the key does a full handshake")
			}},
		)
	}
	return cases
}

// errorsAs is errors.As with the target made for the caller; it keeps
// assertions on wrapped errors one line long.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
