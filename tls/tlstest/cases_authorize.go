package tlstest

import (
	"crypto/x509"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// errNotAllowed is what the suite's Authorize refuses with.
var errNotAllowed = errors.New("not on the list")

// authorizeCases check ServerConfig.Authorize: the server's own judgement
// of a verified client, which must run inside the handshake on full and
// resumed handshakes alike, so that a client refused after its first
// connection cannot come back on a session ticket.
func authorizeCases() []testCase {
	// authorizing builds a require-and-verify server whose Authorize
	// refuses while refuse is set and records the leaf it was shown.
	authorizing := func(t *testing.T, b tls.Backend, p *PKI, refuse *atomic.Bool, seen *atomic.Pointer[x509.Certificate]) tls.Server {
		scfg := baseServer(p)
		scfg.ClientAuth = tls.ClientAuthRequireAndVerify
		scfg.ClientCAs = p.Roots()
		scfg.Authorize = func(chains [][]*x509.Certificate) error {
			if len(chains) > 0 && len(chains[0]) > 0 {
				seen.Store(chains[0][0])
			}
			if refuse.Load() {
				return errNotAllowed
			}
			return nil
		}
		return newServer(t, b, scfg)
	}
	clientOf := func(t *testing.T, b tls.Backend, p *PKI, v uint16) tls.Client {
		ccfg := baseClient(p)
		ccfg.MaxVersion = v
		ccfg.Certificate = &p.ClientECDSA
		return newClient(t, b, ccfg)
	}
	var cases []testCase
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cases = append(cases,
			testCase{versionName(v) + "/SeesVerifiedLeaf", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				var refuse atomic.Bool
				var seen atomic.Pointer[x509.Certificate]
				r := Exchange(t, authorizing(t, b, p, &refuse, &seen), clientOf(t, b, p, v), NameECDSA)
				requireOK(t, r)
				require.NotNil(t, seen.Load(), "Authorize ran")
				assert.True(t, p.ClientECDSA.Leaf.Equal(seen.Load()), "Authorize was shown the client's leaf")
			}},
			testCase{versionName(v) + "/RefusesInHandshake", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				var refuse atomic.Bool
				refuse.Store(true)
				var seen atomic.Pointer[x509.Certificate]
				r := Exchange(t, authorizing(t, b, p, &refuse, &seen), clientOf(t, b, p, v), NameECDSA)
				requireRefused(t, r)
				var verr *tls.VerifyError
				require.ErrorAs(t, r.ServerErr, &verr)
				assert.ErrorIs(t, verr, errNotAllowed, "the refusal keeps Authorize's error")
				assert.Equal(t, tls.AlertAccessDenied, verr.Alert)
				assert.Empty(t, r.Server.VerifiedChains, "a refused client reports no verified chain")
			}},
			testCase{versionName(v) + "/RefusesResumed", func(t *testing.T, b tls.Backend) {
				p := NewPKI(t)
				var refuse atomic.Bool
				var seen atomic.Pointer[x509.Certificate]
				s := authorizing(t, b, p, &refuse, &seen)
				c := clientOf(t, b, p, v)
				requireOK(t, Exchange(t, s, c, NameECDSA))
				again := Exchange(t, s, c, NameECDSA)
				requireOK(t, again)
				require.True(t, again.Server.DidResume, "precondition: this client resumes")
				// The client holds a ticket again; refusing it from here on
				// must reach the resumed handshake too.
				refuse.Store(true)
				second := Exchange(t, s, c, NameECDSA)
				require.Error(t, second.ServerErr, "a resumed client the check now refuses is refused")
				assert.ErrorIs(t, second.ServerErr, errNotAllowed)
			}},
		)
	}
	return cases
}
