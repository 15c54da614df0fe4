package certs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// crlFixture is a root that issues an intermediate, which issues clients;
// the root also issues clients directly.
type crlFixture struct {
	*fixture
	root, inter *DevCA
}

func newCRLFixture(t *testing.T) *crlFixture {
	t.Helper()
	root, err := NewCA("CRL test root", true)
	require.NoError(t, err)
	inter, err := root.IssueIntermediate("CRL test intermediate")
	require.NoError(t, err)
	f := &crlFixture{fixture: &fixture{t: t, dir: t.TempDir(), ca: root}, root: root, inter: inter}
	f.write("ca.pem", root.CertPEM())
	return f
}

func (f *crlFixture) crl(name string, ca *DevCA, next time.Time, revoked ...*x509.Certificate) string {
	f.t.Helper()
	var serials []*big.Int
	for _, c := range revoked {
		serials = append(serials, c.SerialNumber)
	}
	data, err := ca.CRL(serials, next)
	require.NoError(f.t, err)
	return f.write(name, data)
}

func (f *crlFixture) clientOf(ca *DevCA, cn string) (*Issued, *gantrytls.Certificate) {
	f.t.Helper()
	is, err := ca.IssueClient(cn)
	require.NoError(f.t, err)
	c, err := is.Certificate()
	require.NoError(f.t, err)
	return is, &c
}

// handshakeBoth handshakes a fresh connection and returns each side's
// error; a failing side closes its conn so the other does not wait.
func handshakeBoth(t *testing.T, srv gantrytls.Server, cl gantrytls.Client) (s session, clientErr, serverErr error) {
	t.Helper()
	srvRaw, cliRaw := tcpPair(t)
	s = session{server: srv.Server(srvRaw), client: cl.Client(cliRaw, "localhost")}
	t.Cleanup(func() { _ = s.client.Close(); _ = s.server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	serr := make(chan error, 1)
	go func() {
		err := s.server.HandshakeContext(ctx)
		if err != nil {
			_ = s.server.Close()
		}
		serr <- err
	}()
	clientErr = s.client.HandshakeContext(ctx)
	if clientErr != nil {
		_ = s.client.Close()
	}
	return s, clientErr, <-serr
}

func assertRevoked(t *testing.T, err error, expired bool, subject string) {
	t.Helper()
	var ve *gantrytls.VerifyError
	require.True(t, errors.As(err, &ve), "want a VerifyError, got %v", err)
	var re *gantrytls.RevokedError
	require.True(t, errors.As(err, &re), "want a RevokedError, got %v", err)
	assert.Equal(t, expired, re.Expired, "%v", err)
	assert.Contains(t, re.Subject, subject)
	if expired {
		assert.Equal(t, gantrytls.AlertCertificateUnknown, ve.Alert)
	} else {
		assert.Equal(t, gantrytls.AlertCertificateRevoked, ve.Alert)
	}
}

// assertEnds checks that a refused client cannot use its conn: with TLS
// 1.3 its own handshake completes before the server judges it, so the
// refusal shows on the first read.
func assertEnds(t *testing.T, c gantrytls.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err := io.ReadFull(c, make([]byte, 1))
	assert.Error(t, err, "the refused client's connection ends")
}

func TestCRLRevocation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newCRLFixture(t)
		_, serverPair := f.server("server")
		good, goodCert := f.clientOf(f.root, "good")
		revoked, revokedCert := f.clientOf(f.root, "revoked")
		_, viaInterCert := f.clientOf(f.inter, "via-intermediate")
		interRevoked, interRevokedCert := f.clientOf(f.inter, "revoked-by-intermediate")
		week := time.Now().Add(7 * 24 * time.Hour)
		rootCRL := f.crl("root.crl", f.root, week, revoked.Cert)
		interCRL := f.crl("inter.crl", f.inter, week, interRevoked.Cert)
		files := ServerFiles{
			Certificates: []KeyPair{serverPair},
			ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem"),
				CRLs: []string{rootCRL, interCRL}},
		}
		srv, err := NewServer(b, gantrytls.ServerConfig{}, files)
		require.NoError(t, err)
		defer srv.Close()

		client := func(c *gantrytls.Certificate) gantrytls.Client {
			cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.root.Certificate()},
				Certificate: c, DisableSessionCache: true})
			require.NoError(t, err)
			t.Cleanup(func() { _ = cl.Close() })
			return cl
		}
		for _, ok := range []*gantrytls.Certificate{goodCert, viaInterCert} {
			s, cerr, serr := handshakeBoth(t, srv, client(ok))
			require.NoError(t, cerr)
			require.NoError(t, serr)
			echo(t, s, "not revoked")
		}
		refused, _, serr := handshakeBoth(t, srv, client(revokedCert))
		assertRevoked(t, serr, false, "CN=revoked")
		assertEnds(t, refused.client)
		_, _, serr = handshakeBoth(t, srv, client(interRevokedCert))
		assertRevoked(t, serr, false, "CN=revoked-by-intermediate")

		// The root revokes the intermediate: every client below it is out.
		f.crl("root.crl", f.root, week, revoked.Cert, f.inter.Certificate())
		require.NoError(t, srv.Reload())
		_, _, serr = handshakeBoth(t, srv, client(viaInterCert))
		assertRevoked(t, serr, false, "CN=CRL test intermediate")
		s, cerr, serr := handshakeBoth(t, srv, client(goodCert))
		require.NoError(t, cerr)
		require.NoError(t, serr)
		echo(t, s, "still good")

		// A list signed by another CA under the same name is not the
		// issuer's list: it revokes nothing. Through the loader it is an
		// error when the name is a configured CA's.
		impostor, err := NewCA("CRL test root", true)
		require.NoError(t, err)
		bad := f.crl("impostor.crl", impostor, week, good.Cert)
		_, err = files.Load()
		require.NoError(t, err)
		withBad := files
		withBad.ClientAuth.CRLs = []string{bad}
		_, err = withBad.Load()
		assertFields(t, err, [][2]string{{"client_auth.crls[0]", "does not carry the signature"}})
	})
}

func TestCRLExpired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newCRLFixture(t)
		_, serverPair := f.server("server")
		_, goodCert := f.clientOf(f.root, "good")
		_, viaInterCert := f.clientOf(f.inter, "via-intermediate")
		expired := f.crl("root.crl", f.root, time.Now().Add(-time.Hour))
		cl := func(c *gantrytls.Certificate) gantrytls.Client {
			cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.root.Certificate()},
				Certificate: c, DisableSessionCache: true})
			require.NoError(t, err)
			t.Cleanup(func() { _ = cl.Close() })
			return cl
		}
		for _, policy := range []gantrytls.CRLExpiredPolicy{gantrytls.CRLExpiredHard, gantrytls.CRLExpiredSoft} {
			t.Run(policy.String(), func(t *testing.T) {
				var logs bytes.Buffer
				base := gantrytls.ServerConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
				srv, err := NewServer(b, base, ServerFiles{
					Certificates: []KeyPair{serverPair},
					ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem"),
						CRLs: []string{expired}, CRLExpired: policy},
				})
				require.NoError(t, err)
				defer srv.Close()
				for _, c := range []*gantrytls.Certificate{goodCert, viaInterCert} {
					s, cerr, serr := handshakeBoth(t, srv, cl(c))
					if policy == gantrytls.CRLExpiredHard {
						assertRevoked(t, serr, true, "CN=")
						assertEnds(t, s.client)
						continue
					}
					require.NoError(t, cerr)
					require.NoError(t, serr)
				}
				if policy == gantrytls.CRLExpiredSoft {
					assert.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("CRL has expired")), "warned once: %s", logs.String())
				}
			})
		}
	})
}

// TestCRLResumedSession: a client revoked after its first handshake does
// not come back on its session ticket, on TLS 1.3 and TLS 1.2.
func TestCRLResumedSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		for _, version := range []uint16{gantrytls.VersionTLS13, gantrytls.VersionTLS12} {
			name := "TLS1.3"
			if version == gantrytls.VersionTLS12 {
				name = "TLS1.2"
			}
			t.Run(name, func(t *testing.T) {
				f := newCRLFixture(t)
				_, serverPair := f.server("server")
				alice, aliceCert := f.clientOf(f.root, "alice")
				var key [32]byte
				_, err := rand.Read(key[:])
				require.NoError(t, err)
				ticket := f.write("ticket.key", key[:])
				crl := f.crl("root.crl", f.root, time.Now().Add(time.Hour))
				srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{
					Certificates:   []KeyPair{serverPair},
					ClientAuth:     ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem"), CRLs: []string{crl}},
					SessionTickets: TicketFiles{KeyFiles: []string{ticket}},
				})
				require.NoError(t, err)
				defer srv.Close()
				cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.root.Certificate()},
					Certificate: aliceCert, MaxVersion: version})
				require.NoError(t, err)
				defer cl.Close()

				first, cerr, serr := handshakeBoth(t, srv, cl)
				require.NoError(t, cerr)
				require.NoError(t, serr)
				echo(t, first, "first") // the client reads the TLS 1.3 ticket
				require.NoError(t, srv.Reload(), "the same files: tickets still resume")
				second, cerr, serr := handshakeBoth(t, srv, cl)
				require.NoError(t, cerr)
				require.NoError(t, serr)
				require.True(t, second.server.ConnectionState().DidResume, "the session resumes")
				assert.Equal(t, "alice", peerLeaf(t, second.server).Subject.CommonName, "the resumed session keeps the peer chain")
				echo(t, second, "second")

				f.crl("root.crl", f.root, time.Now().Add(time.Hour), alice.Cert)
				require.NoError(t, srv.Reload())
				third, _, serr := handshakeBoth(t, srv, cl)
				assertRevoked(t, serr, false, "CN=alice")
				assertEnds(t, third.client)
			})
		}
	})
}

func TestClientAuthFilesCAsAndCRLs(t *testing.T) {
	f := newCRLFixture(t)
	_, kp := f.server("server")
	other, err := NewDevCA()
	require.NoError(t, err)
	otherCA := f.write("other-ca.pem", other.CertPEM())
	crl := f.crl("root.crl", f.root, time.Now().Add(time.Hour))
	der := f.write("root.der", func() []byte {
		c, err := LoadCRL(crl)
		require.NoError(t, err)
		return c.Raw
	}())
	verify := gantrytls.ClientAuthRequireAndVerify

	set, err := ServerFiles{Certificates: []KeyPair{kp}, ClientAuth: ClientAuthFiles{Mode: verify,
		CA: f.path("ca.pem"), CAs: []string{otherCA}, CRLs: []string{crl, der}, CRLExpired: gantrytls.CRLExpiredSoft}}.Load()
	require.NoError(t, err)
	require.Len(t, set.ClientCAs, 2, "ca and cas are both trusted")
	require.Len(t, set.CRLs, 2, "PEM and DER")
	cfg := set.Apply(gantrytls.ServerConfig{})
	assert.Equal(t, gantrytls.CRLExpiredSoft, cfg.CRLExpired)
	assert.Len(t, cfg.CRLs, 2)

	set, err = ServerFiles{Certificates: []KeyPair{kp}, ClientAuth: ClientAuthFiles{Mode: verify, CAs: []string{otherCA}}}.Load()
	require.NoError(t, err, "cas alone is enough")
	assert.Len(t, set.ClientCAs, 1)

	_, err = ServerFiles{Certificates: []KeyPair{kp}, ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequest,
		CAs: []string{otherCA, ""}, CRLs: []string{crl, f.path("ca.pem"), f.path("missing.crl")}}}.Load()
	assertFields(t, err, [][2]string{
		{"client_auth.cas[1]", "is empty"},
		{"client_auth.crls", "does not verify client certificates"},
		{"client_auth.crls[1]", `PEM block is "CERTIFICATE", want "X509 CRL"`},
		{"client_auth.crls[2]", "does not exist"},
	})
	_, err = ServerFiles{Certificates: []KeyPair{kp}, ClientAuth: ClientAuthFiles{CAs: []string{otherCA}}}.Load()
	assertFields(t, err, [][2]string{{"client_auth.cas", "mode is none"}})

	var p gantrytls.CRLExpiredPolicy
	assert.ErrorContains(t, p.UnmarshalText([]byte("lenient")), "want hard or soft")
	require.NoError(t, p.UnmarshalText([]byte("soft")))
	assert.Equal(t, gantrytls.CRLExpiredSoft, p)
}
