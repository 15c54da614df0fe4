package certs

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// fetchFixture is a root CA whose clients name dp as their CRL
// distribution point, and a server that follows it.
type fetchFixture struct {
	*crlFixture
	dp     *crlServer
	logs   *syncLog
	server KeyPair
}

func newFetchFixture(t *testing.T) *fetchFixture {
	f := &fetchFixture{crlFixture: newCRLFixture(t), dp: newCRLServer(t), logs: &syncLog{}}
	_, f.server = f.fixture.server("server")
	return f
}

func (f *fetchFixture) client(ca *DevCA, cn, dp string) (*Issued, *gantrytls.Certificate) {
	f.t.Helper()
	is, err := ca.IssueClientWith(ClientOptions{CommonName: cn, CRLDistributionPoints: []string{dp}})
	require.NoError(f.t, err)
	c, err := is.Certificate()
	require.NoError(f.t, err)
	return is, &c
}

func (f *fetchFixture) newServer(b gantrytls.Backend, policy gantrytls.CRLExpiredPolicy, tickets bool) *Server {
	f.t.Helper()
	files := ServerFiles{
		Certificates: []KeyPair{f.server},
		ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem"), CRLExpired: policy,
			CRLFetch: CRLFetch{Enabled: true, CacheDir: f.path("crl-cache"), Timeout: 2 * time.Second, RefreshBefore: time.Hour - 3*time.Second}},
	}
	if tickets {
		var key [32]byte
		_, err := rand.Read(key[:])
		require.NoError(f.t, err)
		files.SessionTickets.KeyFiles = []string{f.write("ticket.key", key[:])}
	}
	srv, err := NewServer(b, gantrytls.ServerConfig{Logger: f.logs.logger()}, files)
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func (f *fetchFixture) clientOf(b gantrytls.Backend, c *gantrytls.Certificate, sessions bool) gantrytls.Client {
	f.t.Helper()
	cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.root.Certificate()},
		Certificate: c, DisableSessionCache: !sessions, MaxVersion: gantrytls.VersionTLS13})
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// TestCRLFetchRevokesAfterRefresh: a client passes while the list at its
// distribution point is clean; once the point lists it and the fetcher
// has refreshed, it is refused, on a resumed session too, on every
// backend.
func TestCRLFetchRevokesAfterRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFetchFixture(t)
		url := f.dp.url("/root.crl")
		f.dp.publishFresh(f.root)
		alice, aliceCert := f.client(f.root, "alice", url)
		srv := f.newServer(b, gantrytls.CRLExpiredHard, true)
		cl := f.clientOf(b, aliceCert, true)

		first, cerr, serr := handshakeBoth(t, srv, cl)
		require.NoError(t, cerr)
		require.NoError(t, serr)
		echo(t, first, "first") // the client reads its ticket
		second, cerr, serr := handshakeBoth(t, srv, cl)
		require.NoError(t, cerr)
		require.NoError(t, serr)
		require.True(t, second.server.ConnectionState().DidResume)
		echo(t, second, "second")

		f.dp.publishFresh(f.root, alice.Cert)
		require.Eventually(t, func() bool {
			c, err := srv.crls.CRL(url, true)
			return err == nil && len(c.List().RevokedCertificateEntries) == 1
		}, waitFor, 10*time.Millisecond, "the fetcher refreshes before NextUpdate; logs:\n%s", f.logs)
		third, _, serr := handshakeBoth(t, srv, cl)
		assertRevoked(t, serr, false, "CN=alice")
		assertEnds(t, third.client)
		_, _, serr = handshakeBoth(t, srv, f.clientOf(b, aliceCert, false))
		assertRevoked(t, serr, false, "CN=alice")
	})
}

// TestCRLFetchFirstHandshakeWaits: the first handshake of a client whose
// list Gantry has never had waits for it, and is refused when it revokes
// the client; the C backends' verify callback must not wait under its
// lock, so they finish the check after the callback.
func TestCRLFetchFirstHandshakeWaits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFetchFixture(t)
		bob, bobCert := f.client(f.root, "bob", f.dp.url("/root.crl"))
		f.dp.publishFresh(f.root, bob.Cert)
		srv := f.newServer(b, gantrytls.CRLExpiredHard, false)
		s, _, serr := handshakeBoth(t, srv, f.clientOf(b, bobCert, false))
		assertRevoked(t, serr, false, "CN=bob")
		assertEnds(t, s.client)
		assert.EqualValues(t, 1, f.dp.hits.Load())
	})
}

// TestCRLFetchOnlyForVerifiedChains: a certificate from a CA nobody trusts
// is refused without its distribution point being fetched.
func TestCRLFetchOnlyForVerifiedChains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFetchFixture(t)
		stranger, err := NewDevCA()
		require.NoError(t, err)
		evil := newCRLServer(t)
		evil.publish(stranger, time.Now().Add(time.Hour))
		_, strangerCert := f.client(stranger, "mallory", evil.url("/anything"))
		srv := f.newServer(b, gantrytls.CRLExpiredHard, false)
		_, _, serr := handshakeBoth(t, srv, f.clientOf(b, strangerCert, false))
		var ve *gantrytls.VerifyError
		require.True(t, errors.As(serr, &ve), "%v", serr)
		assert.Equal(t, gantrytls.AlertUnknownCA, ve.Alert)
		assert.Zero(t, evil.hits.Load(), "nothing is fetched for an unverified chain")
	})
}

// TestCRLFetchUnavailable: with the distribution point down and no copy,
// hard refuses and soft accepts with a warning; a list signed by another
// CA of the same name is no list at all.
func TestCRLFetchUnavailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		for _, policy := range []gantrytls.CRLExpiredPolicy{gantrytls.CRLExpiredHard, gantrytls.CRLExpiredSoft} {
			t.Run(policy.String(), func(t *testing.T) {
				f := newFetchFixture(t)
				f.dp.set(func() { f.dp.status = http.StatusServiceUnavailable })
				_, downCert := f.client(f.root, "down", f.dp.url("/root.crl"))
				impostor, err := NewCA("CRL test root", true)
				require.NoError(t, err)
				forged := newCRLServer(t)
				forged.publish(impostor, time.Now().Add(time.Hour))
				_, forgedCert := f.client(f.root, "forged", forged.url("/root.crl"))
				srv := f.newServer(b, policy, false)

				for _, tc := range []struct {
					cert *gantrytls.Certificate
					why  string
				}{{downCert, "HTTP status 503"}, {forgedCert, "not signed by issuer"}} {
					s, cerr, serr := handshakeBoth(t, srv, f.clientOf(b, tc.cert, false))
					if policy == gantrytls.CRLExpiredSoft {
						require.NoError(t, cerr)
						require.NoError(t, serr)
						assert.Contains(t, f.logs.String(), "no CRL from the distribution point")
						assert.Contains(t, f.logs.String(), tc.why)
						continue
					}
					var ue *gantrytls.CRLUnavailableError
					require.True(t, errors.As(serr, &ue), "%v", serr)
					assert.Contains(t, ue.Error(), tc.why)
					var ve *gantrytls.VerifyError
					require.True(t, errors.As(serr, &ve))
					assert.Equal(t, gantrytls.AlertCertificateUnknown, ve.Alert)
					assertEnds(t, s.client)
				}
			})
		}
	})
}

func TestCRLFetchLoadErrors(t *testing.T) {
	f := newFetchFixture(t)
	files := ServerFiles{
		Certificates: []KeyPair{f.server},
		ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem"),
			CRLFetch: CRLFetch{Enabled: true}},
	}
	_, err := files.Load()
	assertFields(t, err, [][2]string{{"client_auth.crl_fetch.cache_dir", "is required"}})
	_, err = NewServer(gantrytls.Backends()[0], gantrytls.ServerConfig{}, files)
	assertFields(t, err, [][2]string{{"client_auth.crl_fetch.cache_dir", "is required"}})

	files.ClientAuth.Mode = gantrytls.ClientAuthRequire
	files.ClientAuth.CA = ""
	files.ClientAuth.CRLFetch.CacheDir = "cache"
	_, err = files.Load()
	assertFields(t, err, [][2]string{{"client_auth.crl_fetch.enabled", "does not verify"}})

	resolved := files.Resolve("/etc/gantry")
	assert.Equal(t, filepath.Join("/etc/gantry", "cache"), resolved.ClientAuth.CRLFetch.CacheDir)
}
