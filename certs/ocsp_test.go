package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// responder is a test OCSP responder: it answers for the serials it is told
// about, signed by the fixture's CA, with a validity that answer sets.
type responder struct {
	t     *testing.T
	ca    *DevCA
	srv   *httptest.Server
	hits  atomic.Int32
	mu    sync.Mutex
	down  bool
	valid time.Duration
	state map[string]int // serial (hex) -> ocsp status
}

func newResponder(t *testing.T, ca *DevCA) *responder {
	r := &responder{t: t, ca: ca, valid: time.Hour, state: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *responder) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	r.mu.Lock()
	down, valid := r.down, r.valid
	r.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	serial, err := OCSPRequestSerial(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	status, ok := r.state[serial.Text(16)]
	r.mu.Unlock()
	if !ok {
		status = ocsp.Unknown
	}
	now := time.Now().Truncate(time.Second)
	der, err := r.ca.OCSPResponse(serial, status, now, now.Add(valid))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(der)
}

func (r *responder) set(serial *big.Int, status int) {
	r.mu.Lock()
	r.state[serial.Text(16)] = status
	r.mu.Unlock()
}

func (r *responder) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *responder) url() string { return r.srv.URL + "/ocsp" }

// stapled issues a certificate that names r as its responder and writes
// it; its OCSP source is issuer-checked against the fixture's CA file.
func (f *fixture) stapled(name string, r *responder, must bool, names ...string) (*Issued, KeyPair) {
	f.t.Helper()
	if len(names) == 0 {
		names = []string{"localhost"}
	}
	opts := ServerOptions{Names: names, MustStaple: must}
	if r != nil {
		opts.OCSPServer = r.url()
	}
	is, err := f.ca.IssueServerWith(opts)
	require.NoError(f.t, err)
	kp := f.writePair(name, is)
	kp.OCSP.Issuer = f.path("ca.pem")
	return is, kp
}

func (f *fixture) response(is *Issued, status int, thisUpdate, nextUpdate time.Time) []byte {
	f.t.Helper()
	der, err := f.ca.OCSPResponse(is.Cert.SerialNumber, status, thisUpdate, nextUpdate)
	require.NoError(f.t, err)
	return der
}

// stapleSeen handshakes with srv for name and returns the OCSP response the
// client got (nil for none).
func stapleSeen(t *testing.T, b gantrytls.Backend, f *fixture, srv gantrytls.Server, name string) []byte {
	t.Helper()
	return stapleSeenAt(t, b, f, srv, name, 0)
}

// stapleSeenAt is stapleSeen with the client capped at maxVersion (0: the
// policy's), since TLS 1.2 carries the staple in its own message.
func stapleSeenAt(t *testing.T, b gantrytls.Backend, f *fixture, srv gantrytls.Server, name string, maxVersion uint16) []byte {
	t.Helper()
	cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.ca.Certificate()}, DisableVerifyHostname: true, MaxVersion: maxVersion})
	require.NoError(t, err)
	defer cl.Close()
	srvRaw, cliRaw := tcpPair(t)
	s := session{server: srv.Server(srvRaw), client: cl.Client(cliRaw, name)}
	require.NoError(t, s.handshake(t))
	if maxVersion != 0 {
		require.Equal(t, maxVersion, s.client.ConnectionState().Version)
	}
	return s.client.ConnectionState().OCSPResponse
}

// events collects a Server's OCSP events.
type events struct {
	ch chan OCSPEvent
}

func newEvents() *events { return &events{ch: make(chan OCSPEvent, 64)} }

func (e *events) hook(ev OCSPEvent) { e.ch <- ev }

// next waits for the next event of kind, skipping others.
func (e *events) next(t *testing.T, kind OCSPEventKind) OCSPEvent {
	t.Helper()
	deadline := time.After(ioTimeout)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

func TestOCSPStapleFromFileFollowsSNI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		now := time.Now()
		a, kpA := f.stapled("a", nil, false, "a.test")
		c, kpC := f.stapled("c", nil, false, "c.test")
		derA := f.response(a, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour))
		derC := f.response(c, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour))
		kpA.OCSP.File = f.write("a.ocsp", derA)
		kpC.OCSP.File = f.write("c.ocsp", derC)
		srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kpA, kpC}})
		require.NoError(t, err)
		defer srv.Close()
		for _, v := range []uint16{gantrytls.VersionTLS12, gantrytls.VersionTLS13} {
			assert.Equal(t, derA, stapleSeenAt(t, b, f, srv, "a.test", v))
			assert.Equal(t, derC, stapleSeenAt(t, b, f, srv, "c.test", v))
			assert.Equal(t, derA, stapleSeenAt(t, b, f, srv, "other.test", v), "the default certificate's staple")
		}
	})
}

func TestOCSPNeverStaplesABadResponse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		now := time.Now()
		is, kp := f.stapled("srv", nil, false)
		other, _ := f.stapled("other", nil, false)
		otherCA, err := NewDevCA()
		require.NoError(t, err)
		foreign, err := otherCA.OCSPResponse(is.Cert.SerialNumber, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour))
		require.NoError(t, err)
		for name, der := range map[string][]byte{
			"expired":      f.response(is, ocsp.Good, now.Add(-2*time.Hour), now.Add(-time.Hour)),
			"not yet":      f.response(is, ocsp.Good, now.Add(time.Hour), now.Add(2*time.Hour)),
			"other serial": f.response(other, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour)),
			"revoked":      f.response(is, ocsp.Revoked, now.Add(-time.Hour), now.Add(time.Hour)),
			"other CA":     foreign,
		} {
			t.Run(name, func(t *testing.T) {
				kp.OCSP.File = f.write("bad.ocsp", der)
				files := ServerFiles{Certificates: []KeyPair{kp}}
				set, err := files.Load()
				require.NoError(t, err)
				require.Len(t, set.Warnings, 1)
				var fe *gantrytls.FieldError
				require.True(t, errors.As(set.Warnings[0], &fe))
				assert.Equal(t, "certificates[0].ocsp.file", fe.Field)
				srv, err := NewServer(b, gantrytls.ServerConfig{}, files)
				require.NoError(t, err)
				defer srv.Close()
				assert.Empty(t, stapleSeen(t, b, f, srv, "localhost"))
			})
		}
	})
}

func TestOCSPFetchedAndCached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		r := newResponder(t, f.ca)
		is, kp := f.stapled("srv", r, true)
		r.set(is.Cert.SerialNumber, ocsp.Good)
		kp.OCSP.Fetch = true
		cache := t.TempDir()
		ev := newEvents()
		files := ServerFiles{Certificates: []KeyPair{kp}, OCSP: OCSPOptions{CacheDir: cache, OnEvent: ev.hook}}

		srv, err := NewServer(b, gantrytls.ServerConfig{}, files)
		require.NoError(t, err)
		stapled := ev.next(t, OCSPStapled)
		assert.True(t, stapled.MustStaple)
		got := stapleSeen(t, b, f, srv, "localhost")
		resp, err := gantrytls.CheckOCSPResponse(got, is.Cert, f.ca.Certificate(), time.Now())
		require.NoError(t, err, "the client sees the fetched response")
		assert.Equal(t, stapled.ThisUpdate, resp.ThisUpdate)
		assert.EqualValues(t, 1, r.hits.Load())
		require.NoError(t, srv.Close())

		st, err := os.Stat(cacheFile(cache, is.Cert))
		require.NoError(t, err, "the response is cached")
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

		// A restart with the responder down staples from the cache, even
		// for a must-staple certificate.
		r.setDown(true)
		srv, err = NewServer(b, gantrytls.ServerConfig{}, files)
		require.NoError(t, err)
		defer srv.Close()
		assert.Equal(t, got, stapleSeen(t, b, f, srv, "localhost"))
		assert.EqualValues(t, 1, r.hits.Load(), "the cache spared a fetch")
	})
}

func TestOCSPMustStaple(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		r := newResponder(t, f.ca)
		_, kp := f.stapled("srv", r, true)
		kp.OCSP.Issuer = ""

		// Nothing configured: refused at load, which is gantry check.
		_, err := ServerFiles{Certificates: []KeyPair{kp}}.Load()
		assertFields(t, err, [][2]string{{"certificates[0].ocsp", "must-staple"}})

		// Fetch configured but no good response to be had: refused at start.
		r.setDown(true)
		kp.OCSP.Fetch, kp.OCSP.Issuer = true, f.path("ca.pem")
		_, err = NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}})
		var fe *gantrytls.FieldError
		require.True(t, errors.As(err, &fe), "%v", err)
		assert.Equal(t, "certificates[0].ocsp.fetch", fe.Field)
		assert.Contains(t, fe.Err.Error(), "HTTP 503")

		// An expired file for a must-staple certificate is an error too.
		now := time.Now()
		kp.OCSP = OCSPSource{}
		is, kp2 := f.stapled("srv2", r, true)
		kp2.OCSP.File = f.write("old.ocsp", f.response(is, ocsp.Good, now.Add(-2*time.Hour), now.Add(-time.Hour)))
		_, err = ServerFiles{Certificates: []KeyPair{kp2}}.Load()
		assertFields(t, err, [][2]string{{"certificates[0].ocsp.file", "expired"}})

		// ignore serves it without a staple.
		srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}, OCSP: OCSPOptions{MustStaple: MustStapleIgnore}})
		require.NoError(t, err)
		defer srv.Close()
		assert.Empty(t, stapleSeen(t, b, f, srv, "localhost"))
	})
}

func TestOCSPRefreshAtHalfValidity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		r := newResponder(t, f.ca)
		r.valid = 6 * time.Second
		is, kp := f.stapled("srv", r, false)
		r.set(is.Cert.SerialNumber, ocsp.Good)
		kp.OCSP.Fetch = true
		ev := newEvents()
		srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}, OCSP: OCSPOptions{OnEvent: ev.hook}})
		require.NoError(t, err)
		defer srv.Close()
		first := ev.next(t, OCSPStapled)
		assert.Equal(t, first.ThisUpdate.Add(3*time.Second), first.RefreshAt, "half-way through the validity")

		refreshed := ev.next(t, OCSPRefreshed)
		assert.True(t, refreshed.ThisUpdate.After(first.ThisUpdate))
		assert.False(t, refreshed.ThisUpdate.Before(first.RefreshAt), "not refreshed before half validity")
		got := stapleSeen(t, b, f, srv, "localhost")
		resp, err := ocsp.ParseResponse(got, f.ca.Certificate())
		require.NoError(t, err)
		assert.Equal(t, refreshed.ThisUpdate, resp.ThisUpdate, "new handshakes get the new staple without a restart")
	})
}

func TestOCSPExpiredStapleIsDropped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		now := time.Now().Truncate(time.Second)
		is, kp := f.stapled("srv", nil, false)
		// Valid for two seconds from now; the file never gets a newer one.
		kp.OCSP.File = f.write("short.ocsp", f.response(is, ocsp.Good, now.Add(-2*time.Second), now.Add(2*time.Second)))
		ev := newEvents()
		srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}, OCSP: OCSPOptions{OnEvent: ev.hook}})
		require.NoError(t, err)
		defer srv.Close()
		ev.next(t, OCSPExpired)
		assert.Empty(t, stapleSeen(t, b, f, srv, "localhost"), "an expired response is never stapled")
	})
}

func TestOCSPLoadErrors(t *testing.T) {
	f := newFixture(t)
	_, plain := f.server("plain") // no responder, leaf issued by the root alone
	fetch := plain
	fetch.OCSP.Fetch = true
	both := plain
	both.OCSP = OCSPSource{File: "x", Fetch: true}
	_, err := ServerFiles{Certificates: []KeyPair{fetch, both}, OCSP: OCSPOptions{CacheDir: f.path("missing"), FetchTimeout: -1}}.Load()
	assertFields(t, err, [][2]string{
		{"ocsp.fetch_timeout", "negative"},
		{"ocsp.cache_dir", "not an existing directory"},
		{"certificates[0].ocsp.issuer", "no issuer certificate"},
		{"certificates[1].ocsp", "not both"},
	})
	fetch.OCSP.Issuer = f.path("ca.pem")
	_, err = ServerFiles{Certificates: []KeyPair{fetch}}.Load()
	assertFields(t, err, [][2]string{{"certificates[0].ocsp.fetch", "names no OCSP responder"}})
}

// TestUpstreamOCSPCheck is the client side: what an upstream staples,
// judged by the shared verifier on every backend.
func TestUpstreamOCSPCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		now := time.Now()
		is, err := f.ca.IssueServerWith(ServerOptions{Names: []string{"localhost"}})
		require.NoError(t, err)
		cert, err := is.Certificate()
		require.NoError(t, err)
		good := f.response(is, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour))
		revoked := f.response(is, ocsp.Revoked, now.Add(-time.Hour), now.Add(time.Hour))
		for _, tc := range []struct {
			name   string
			staple []byte
			check  gantrytls.OCSPCheck
			want   error // nil: accepted
			alert  gantrytls.Alert
		}{
			{"good, require", good, gantrytls.OCSPCheckRequire, nil, 0},
			{"revoked, if-stapled", revoked, gantrytls.OCSPCheckIfStapled, &gantrytls.OCSPRevokedError{}, gantrytls.AlertCertificateRevoked},
			{"revoked, require", revoked, gantrytls.OCSPCheckRequire, &gantrytls.OCSPRevokedError{}, gantrytls.AlertCertificateRevoked},
			{"missing, require", nil, gantrytls.OCSPCheckRequire, gantrytls.ErrNoOCSPStaple, gantrytls.AlertBadCertificateStatusResponse},
			{"missing, if-stapled", nil, gantrytls.OCSPCheckIfStapled, nil, 0},
			{"revoked, off", revoked, gantrytls.OCSPCheckOff, nil, 0},
		} {
			for _, v := range []uint16{gantrytls.VersionTLS12, gantrytls.VersionTLS13} {
				t.Run(fmt.Sprintf("%s, %x", tc.name, v), func(t *testing.T) {
					c := cert
					c.OCSPStaple = tc.staple
					srv, err := b.NewServer(&gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{c}})
					require.NoError(t, err)
					defer srv.Close()
					cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.ca.Certificate()}, OCSP: tc.check, DisableSessionCache: true, MaxVersion: v})
					require.NoError(t, err)
					defer cl.Close()
					srvRaw, cliRaw := tcpPair(t)
					s := session{server: srv.Server(srvRaw), client: cl.Client(cliRaw, "localhost")}
					err = s.handshake(t)
					if tc.want == nil {
						require.NoError(t, err)
						return
					}
					var ve *gantrytls.VerifyError
					require.True(t, errors.As(err, &ve), "%v", err)
					assert.Equal(t, tc.alert, ve.Alert)
					switch want := tc.want.(type) {
					case *gantrytls.OCSPRevokedError:
						var re *gantrytls.OCSPRevokedError
						assert.True(t, errors.As(err, &re), "%v", err)
					default:
						assert.ErrorIs(t, err, want)
					}
				})
			}
		}
	})
}

// TestUpstreamOCSPRequireResumes: a session whose full handshake had a
// good staple resumes under require on every backend, whether or not the
// library keeps the staple in the session.
func TestUpstreamOCSPRequireResumes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		now := time.Now()
		is, err := f.ca.IssueServerWith(ServerOptions{Names: []string{"localhost"}})
		require.NoError(t, err)
		cert, err := is.Certificate()
		require.NoError(t, err)
		cert.OCSPStaple = f.response(is, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour))
		srv, err := b.NewServer(&gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{cert}})
		require.NoError(t, err)
		defer srv.Close()
		cl, err := b.NewClient(&gantrytls.ClientConfig{RootCAs: []*x509.Certificate{f.ca.Certificate()}, OCSP: gantrytls.OCSPCheckRequire})
		require.NoError(t, err)
		defer cl.Close()
		resumed := false
		for range 3 {
			s, err := connect(t, srv, cl)
			require.NoError(t, err)
			echo(t, s, "x") // a TLS 1.3 client learns its ticket by reading
			resumed = resumed || s.client.ConnectionState().DidResume
		}
		assert.True(t, resumed, "a later handshake resumed")
	})
}

// TestOCSPReloadAndClose: a reload that renews the certificate staples the
// new certificate's own response, never the old one's; Close stops the
// refresher before it returns.
func TestOCSPReloadAndClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b gantrytls.Backend) {
		f := newFixture(t)
		r := newResponder(t, f.ca)
		old, kp := f.stapled("srv", r, false)
		r.set(old.Cert.SerialNumber, ocsp.Good)
		kp.OCSP.Fetch = true
		srv, err := NewServer(b, gantrytls.ServerConfig{}, ServerFiles{Certificates: []KeyPair{kp}})
		require.NoError(t, err)
		resp, err := ocsp.ParseResponse(stapleSeen(t, b, f, srv, "localhost"), f.ca.Certificate())
		require.NoError(t, err)
		assert.Equal(t, old.Cert.SerialNumber, resp.SerialNumber)

		renewed, _ := f.stapled("srv", r, false) // same files, new serial
		r.set(renewed.Cert.SerialNumber, ocsp.Good)
		require.NoError(t, srv.Reload())
		resp, err = ocsp.ParseResponse(stapleSeen(t, b, f, srv, "localhost"), f.ca.Certificate())
		require.NoError(t, err)
		assert.Equal(t, renewed.Cert.SerialNumber, resp.SerialNumber)

		require.NoError(t, srv.Close())
		select {
		case <-srv.ocsp.done:
		default:
			t.Fatal("the refresher still runs after Close")
		}
	})
}
