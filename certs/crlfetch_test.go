package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// waitFor bounds every poll for an event a background fetch causes.
const waitFor = 30 * time.Second

// crlServer is a CRL distribution point whose list a test replaces.
type crlServer struct {
	t    *testing.T
	srv  *httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	body   []byte
	status int
	hold   chan struct{} // non-nil: requests wait for it to close
	chunk  bool          // send no Content-Length
	// signer, when set, signs a new list for each request, valid for an
	// hour from then, as a CA that publishes often does: its refresh
	// time does not depend on how long after publishing it is fetched.
	signer  *DevCA
	revoked []*x509.Certificate
}

func newCRLServer(t *testing.T) *crlServer {
	s := &crlServer{t: t, status: http.StatusOK}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, hold, chunk := s.body, s.status, s.hold, s.chunk
		if s.signer != nil {
			body = s.sign(s.signer, time.Now().Add(time.Hour), s.revoked...).Raw
		}
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if status != http.StatusOK {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		if chunk {
			_, _ = w.Write(body[:1])
			w.(http.Flusher).Flush()
			_, _ = w.Write(body[1:])
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *crlServer) url(path string) string { return s.srv.URL + path }

// publish serves a CRL of ca, due at next, revoking revoked, in DER.
func (s *crlServer) publish(ca *DevCA, next time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	s.t.Helper()
	list := s.sign(ca, next, revoked...)
	s.set(func() { s.body = list.Raw; s.status = http.StatusOK; s.signer = nil })
	return list
}

// publishFresh serves a list of ca revoking revoked, signed anew for each
// request.
func (s *crlServer) publishFresh(ca *DevCA, revoked ...*x509.Certificate) {
	s.set(func() { s.signer, s.revoked, s.status = ca, revoked, http.StatusOK })
}

func (s *crlServer) sign(ca *DevCA, next time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	var serials []*big.Int
	for _, c := range revoked {
		serials = append(serials, c.SerialNumber)
	}
	data, err := ca.CRL(serials, next)
	require.NoError(s.t, err)
	block, _ := pem.Decode(data)
	require.NotNil(s.t, block)
	list, err := x509.ParseRevocationList(block.Bytes)
	require.NoError(s.t, err)
	return list
}

func (s *crlServer) set(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
}

// syncLog collects log lines written from several goroutines.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// fetchCounts counts a fetcher's network fetches by result.
type fetchCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *fetchCounts) add(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[result]++
}

func (c *fetchCounts) get(result string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[result]
}

func newTestFetcher(t *testing.T, o CRLFetch) (*CRLFetcher, *syncLog, *fetchCounts) {
	t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(t.TempDir(), "crls")
	}
	o.Enabled = true
	logs := &syncLog{}
	f, err := NewCRLFetcher(o, logs.logger())
	require.NoError(t, err)
	counts := &fetchCounts{n: map[string]int{}}
	f.onFetch = counts.add
	f.retryFirst = 10 * time.Millisecond
	t.Cleanup(func() { _ = f.Close() })
	return f, logs, counts
}

func TestCRLFetcherFetchesOnceAndKeepsACopy(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	dp := newCRLServer(t)
	want := dp.publish(ca, time.Now().Add(24*time.Hour))
	dir := filepath.Join(t.TempDir(), "cache")
	f, _, _ := newTestFetcher(t, CRLFetch{CacheDir: dir})

	// Handshakes arriving together share the one first fetch.
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.CRL(dp.url("/ca.crl"), true)
			if assert.NoError(t, err) {
				got[i] = c.List().Raw
			}
		}()
	}
	wg.Wait()
	for i := range got {
		assert.Equal(t, want.Raw, got[i])
	}
	assert.EqualValues(t, 1, dp.hits.Load(), "one fetch for all of them")

	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "the cache directory is made 0700")
	copyFile := crlCacheFile(dir, dp.url("/ca.crl"))
	st, err = os.Stat(copyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	onDisk, err := os.ReadFile(copyFile)
	require.NoError(t, err)
	assert.Equal(t, want.Raw, onDisk)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestCRLFetcherRefusesOversizeBodies(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			dp := newCRLServer(t)
			list := dp.publish(ca, time.Now().Add(time.Hour))
			dp.set(func() { dp.chunk = chunked })
			f, logs, _ := newTestFetcher(t, CRLFetch{MaxBytes: int64(len(list.Raw) - 1)})
			_, err := f.CRL(dp.url("/big.crl"), true)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "max_bytes")
			assert.Contains(t, logs.String(), dp.url("/big.crl"), "the failure is logged with its URL")
			assert.NotContains(t, logs.String(), string(list.Raw[:16]), "never the body")
		})
	}
}

func TestCRLFetcherTimeout(t *testing.T) {
	dp := newCRLServer(t)
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	dp.set(func() { dp.hold = hold })
	f, logs, _ := newTestFetcher(t, CRLFetch{Timeout: 100 * time.Millisecond})
	_, err := f.CRL(dp.url("/slow.crl"), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "deadline exceeded")
	// Later calls do not wait again: they get the failure at once.
	_, err = f.CRL(dp.url("/slow.crl"), true)
	require.Error(t, err)
	assert.Contains(t, logs.String(), "CRL fetch failed")
}

// TestCRLFetcherNoWait: a caller that may not wait (a TLS library's
// callback) learns that the first fetch is under way instead.
func TestCRLFetcherNoWait(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	dp := newCRLServer(t)
	want := dp.publish(ca, time.Now().Add(time.Hour))
	hold := make(chan struct{})
	dp.set(func() { dp.hold = hold })
	f, _, _ := newTestFetcher(t, CRLFetch{})
	_, err = f.CRL(dp.url("/ca.crl"), false)
	require.ErrorIs(t, err, gantrytls.ErrCRLPending)
	close(hold)
	c, err := f.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err)
	assert.Equal(t, want.Raw, c.List().Raw)
	c, err = f.CRL(dp.url("/ca.crl"), false)
	require.NoError(t, err)
	assert.Equal(t, want.Raw, c.List().Raw)
	assert.EqualValues(t, 1, dp.hits.Load())
}

func TestCRLFetcherUsesTheDiskCopyWhenThePointIsDown(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	dp := newCRLServer(t)
	want := dp.publish(ca, time.Now().Add(time.Hour))
	dir := filepath.Join(t.TempDir(), "cache")
	first, _, _ := newTestFetcher(t, CRLFetch{CacheDir: dir})
	_, err = first.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err)
	require.NoError(t, first.Close())

	dp.set(func() { dp.status = http.StatusServiceUnavailable })
	again, logs, counts := newTestFetcher(t, CRLFetch{CacheDir: dir})
	c, err := again.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err, "the copy from the last run serves")
	assert.Equal(t, want.Raw, c.List().Raw)
	// It is fetched again at once in the background; failures keep it.
	require.Eventually(t, func() bool { return counts.get("error") >= 2 }, waitFor, 10*time.Millisecond, "retried with backoff")
	c, err = again.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err)
	assert.Equal(t, want.Raw, c.List().Raw, "the last good copy stays")
	assert.Contains(t, logs.String(), "HTTP status 503")
}

func TestCRLFetcherRefreshesBeforeNextUpdate(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	revokedOne, err := ca.IssueClient("revoked")
	require.NoError(t, err)
	dp := newCRLServer(t)
	dp.publishFresh(ca)
	// Lists valid for an hour from when they are served, refreshed three
	// seconds after they were signed.
	f, _, counts := newTestFetcher(t, CRLFetch{RefreshBefore: time.Hour - 3*time.Second})
	c, err := f.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err)
	require.Empty(t, c.List().RevokedCertificateEntries)

	dp.publishFresh(ca, revokedOne.Cert)
	require.Eventually(t, func() bool {
		c, err := f.CRL(dp.url("/ca.crl"), true)
		return err == nil && len(c.List().RevokedCertificateEntries) == 1
	}, waitFor, 10*time.Millisecond, "the newer list is fetched before the old one is due")
	assert.GreaterOrEqual(t, counts.get("ok"), 2)
}

func TestCRLFetcherKeepsTheNewerList(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	dp := newCRLServer(t)
	// Lists due in seconds, so that the one held is fetched again within
	// about a second (halfway to its NextUpdate) however slow the machine.
	old := dp.publish(ca, time.Now().Add(5*time.Second))
	oldBody := old.Raw
	time.Sleep(time.Millisecond) // a later CRL number, which DevCA takes from the clock
	newer := dp.publish(ca, time.Now().Add(5*time.Second))
	f, logs, counts := newTestFetcher(t, CRLFetch{})
	_, err = f.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err)

	// Someone on the path answers with the older, validly signed list.
	dp.set(func() { dp.body = oldBody })
	require.Eventually(t, func() bool { return counts.get("error") >= 1 }, waitFor, 10*time.Millisecond)
	c, err := f.CRL(dp.url("/ca.crl"), true)
	require.NoError(t, err)
	assert.Equal(t, newer.Raw, c.List().Raw)
	assert.Contains(t, logs.String(), "older than the one held")
}

func TestCRLFetcherNextFetch(t *testing.T) {
	f, _, _ := newTestFetcher(t, CRLFetch{RefreshBefore: time.Hour})
	f.retryFirst = time.Second
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	list := func(next time.Time) *x509.RevocationList {
		return &x509.RevocationList{ThisUpdate: now.Add(-time.Hour), NextUpdate: next}
	}
	fetched := func(next time.Time) *gantrytls.FetchedCRL { return gantrytls.NewFetchedCRL(list(next)) }
	cases := []struct {
		name     string
		c        *gantrytls.FetchedCRL
		failures int
		want     time.Duration
	}{
		{"a week's list: an hour before it is due", fetched(now.Add(7 * 24 * time.Hour)), 0, 7*24*time.Hour - time.Hour},
		{"less left than refresh_before: halfway", fetched(now.Add(30 * time.Minute)), 0, 15 * time.Minute},
		{"almost due: not in a loop", fetched(now.Add(time.Millisecond)), 0, time.Second},
		{"no NextUpdate", fetched(time.Time{}), 0, time.Hour},
		{"expired: retry", fetched(now.Add(-time.Minute)), 0, time.Second},
		{"first failure", nil, 1, time.Second},
		{"third failure", nil, 3, 4 * time.Second},
		{"many failures: at most five minutes", nil, 40, 5 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, f.nextFetch(tc.c, tc.failures, now))
		})
	}
}

func TestCRLFetcherURLs(t *testing.T) {
	f, _, _ := newTestFetcher(t, CRLFetch{MaxURLs: 1, Timeout: 100 * time.Millisecond})
	for _, bad := range []string{"https://ca.example/ca.crl", "ldap://ca.example/cn=ca", "http:///ca.crl", "http://user@ca.example/ca.crl",
		"http://ca.example/" + strings.Repeat("a", 3000)} {
		_, err := f.CRL(bad, true)
		assert.Error(t, err, bad)
	}
	dp := newCRLServer(t)
	dp.set(func() { dp.status = http.StatusNotFound })
	_, err := f.CRL(dp.url("/one.crl"), true)
	assert.ErrorContains(t, err, "HTTP status 404")
	_, err = f.CRL(dp.url("/two.crl"), true)
	assert.ErrorContains(t, err, "max_urls")
	assert.EqualValues(t, 1, dp.hits.Load(), "the second URL is not fetched")

	require.NoError(t, f.Close())
	_, err = f.CRL(dp.url("/three.crl"), true)
	assert.ErrorContains(t, err, "closed")
}

func TestCRLFetchCheck(t *testing.T) {
	loose := t.TempDir()
	require.NoError(t, os.Chmod(loose, 0o777)) // #nosec G302 -- the mode under test
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	cases := []struct {
		o        CRLFetch
		verifies bool
		want     [][2]string
	}{
		{CRLFetch{Enabled: true}, true, [][2]string{{"crl_fetch.cache_dir", "is required"}}},
		{CRLFetch{Enabled: true, CacheDir: loose}, true, [][2]string{{"crl_fetch.cache_dir", "writable by group or others"}}},
		{CRLFetch{Enabled: true, CacheDir: file}, true, [][2]string{{"crl_fetch.cache_dir", "not a directory"}}},
		{CRLFetch{Enabled: true, CacheDir: filepath.Join(t.TempDir(), "new")}, false, [][2]string{{"crl_fetch.enabled", "does not verify"}}},
		{CRLFetch{Enabled: true, CacheDir: filepath.Join(t.TempDir(), "new"), Timeout: -1, MaxBytes: -1, RefreshBefore: -1, MaxURLs: -1}, true,
			[][2]string{{"crl_fetch.timeout", "positive"}, {"crl_fetch.refresh_before", "positive"}, {"crl_fetch.max_bytes", "positive"}, {"crl_fetch.max_urls", "positive"}}},
	}
	for i, tc := range cases {
		var errs fieldErrors
		tc.o.check(&errs, "crl_fetch", tc.verifies)
		require.Len(t, errs, len(tc.want), "case %d: %v", i, errs)
		for j, w := range tc.want {
			assert.Contains(t, errs[j].Error(), w[0], "case %d", i)
			assert.Contains(t, errs[j].Error(), w[1], "case %d", i)
		}
	}
	var none fieldErrors
	CRLFetch{CacheDir: loose}.check(&none, "crl_fetch", false)
	assert.Empty(t, none, "nothing is checked while fetching is off")
}
