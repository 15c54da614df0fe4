package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// CRLFetch turns on fetching the CRLs of client certificates from the
// http CRL distribution points the certificates name.
type CRLFetch struct {
	// Enabled turns fetching on. It needs a client_auth mode that
	// verifies, and CacheDir.
	Enabled bool `yaml:"enabled"`
	// CacheDir is the directory where the last good copy of each fetched
	// CRL is kept, so that a restart checks revocation at once even when
	// a distribution point is down. It is created (mode 0700) when
	// missing and must not be writable by group or others.
	CacheDir string `yaml:"cache_dir"`
	// Timeout bounds one fetch, connection and body included; zero means
	// DefaultCRLFetchTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBytes refuses a CRL body larger than this; zero means
	// DefaultCRLFetchMaxBytes.
	MaxBytes int64 `yaml:"max_bytes"`
	// RefreshBefore is how long before a CRL's NextUpdate it is fetched
	// again; zero means DefaultCRLRefreshBefore. When less of the list's
	// validity than that is left, it is fetched again halfway through
	// what is left.
	RefreshBefore time.Duration `yaml:"refresh_before"`
	// MaxURLs bounds the distribution points followed; zero means
	// DefaultCRLFetchMaxURLs.
	MaxURLs int `yaml:"max_urls"`
	// OnFetch, when set, is told the result of every fetch: "ok" (a new
	// list), "unchanged" (the list held, served again) or "error". It
	// feeds gantry_crl_fetch_total.
	OnFetch func(result string) `yaml:"-"`
}

// Defaults of CRLFetch.
const (
	DefaultCRLFetchTimeout  = 5 * time.Second
	DefaultCRLFetchMaxBytes = 10 << 20
	// DefaultCRLRefreshBefore leaves an hour of a list's validity to get
	// its successor: enough for several retries of a distribution point
	// that is briefly down before the list expires and crl_expired
	// decides, while not fetching a list that is valid for days every few
	// minutes.
	DefaultCRLRefreshBefore = time.Hour
	DefaultCRLFetchMaxURLs  = 64
)

// withDefaults fills in the zero values.
func (o CRLFetch) withDefaults() CRLFetch {
	if o.Timeout == 0 {
		o.Timeout = DefaultCRLFetchTimeout
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultCRLFetchMaxBytes
	}
	if o.RefreshBefore == 0 {
		o.RefreshBefore = DefaultCRLRefreshBefore
	}
	if o.MaxURLs == 0 {
		o.MaxURLs = DefaultCRLFetchMaxURLs
	}
	return o
}

// check adds every problem with o to errs, at prefix+"."+key. It reads the
// file system but changes nothing: a missing CacheDir is made when the
// fetcher starts.
func (o CRLFetch) check(errs *fieldErrors, prefix string, verifies bool) {
	if !o.Enabled {
		return
	}
	if !verifies {
		errs.addf(prefix+".enabled", "CRL fetching is on but client_auth.mode does not verify client certificates, so no CRL would ever be checked (use verify-if-given or require-and-verify)")
	}
	if o.Timeout < 0 {
		errs.addf(prefix+".timeout", "must be a positive duration, got %s", o.Timeout)
	}
	if o.RefreshBefore < 0 {
		errs.addf(prefix+".refresh_before", "must be a positive duration, got %s", o.RefreshBefore)
	}
	if o.MaxBytes < 0 {
		errs.addf(prefix+".max_bytes", "must be positive, got %d", o.MaxBytes)
	}
	if o.MaxURLs < 0 {
		errs.addf(prefix+".max_urls", "must be positive, got %d", o.MaxURLs)
	}
	if o.CacheDir == "" {
		errs.addf(prefix+".cache_dir", "is required when crl_fetch is enabled: name a directory for the last good copy of each CRL")
		return
	}
	if err := checkCacheDir(o.CacheDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs.add(prefix+".cache_dir", err)
	}
}

// checkCacheDir refuses a cache directory that is not a directory or that
// others may write to: whoever can write there can put back an older
// signed CRL, one that does not yet list a revoked certificate.
func checkCacheDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %#o): make it 0700, since whoever can write there can replace a CRL with an older one", dir, st.Mode().Perm())
	}
	return nil
}

// Retry and refresh spacing of CRLFetcher.
const (
	crlRetryFirst = time.Second
	crlRetryMax   = 5 * time.Minute
	// crlRefreshMin keeps a list that is always due (its NextUpdate too
	// close) from being fetched in a loop.
	crlRefreshMin = time.Second
	// crlNoNextUpdate is how often a list without a NextUpdate is
	// fetched again.
	crlNoNextUpdate = time.Hour
	// crlMaxRedirects bounds the redirects followed, all to http URLs.
	crlMaxRedirects = 3
	crlMaxURLLength = 2048
)

// CRLFetcher is the gantrytls.CRLSource of one server: it fetches the CRL
// of each distribution point it is asked for once, keeps it in memory and
// in its cache directory, and fetches it again in the background before it
// is due. It is safe for concurrent use; Close stops it.
type CRLFetcher struct {
	opts   CRLFetch
	log    *slog.Logger
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	points map[string]*crlPoint
	closed bool
	full   atomic.Bool // max_urls was reached and logged

	// Set by tests before use: the first retry's delay, and a function
	// told the result of every network fetch: "ok", "unchanged" (the
	// list held is the same) or "error".
	retryFirst time.Duration
	onFetch    func(result string)
}

var _ gantrytls.CRLSource = (*CRLFetcher)(nil)

// crlPoint is one distribution point and the list last had from it.
type crlPoint struct {
	url   string
	file  string        // its copy in the cache directory
	ready chan struct{} // closed once the first copy was sought
	cur   atomic.Pointer[gantrytls.FetchedCRL]
	err   atomic.Pointer[error] // why there is no copy, while cur is nil
}

// NewCRLFetcher makes the cache directory (0700) if missing and returns a
// fetcher that logs to log (nil: slog.Default()). o must have passed the
// checks of ServerFiles.Load.
func NewCRLFetcher(o CRLFetch, log *slog.Logger) (*CRLFetcher, error) {
	o = o.withDefaults()
	if o.CacheDir == "" {
		return nil, errors.New("certs: crl_fetch needs a cache directory")
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: crl_fetch cache directory: %w", err)
	}
	if err := checkCacheDir(o.CacheDir); err != nil {
		return nil, fmt.Errorf("certs: crl_fetch cache directory: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	transport := &http.Transport{
		// No proxy from the environment: where a CRL comes from should
		// not depend on a variable nobody configured for Gantry.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: o.Timeout}).DialContext,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        30 * time.Second,
	}
	f := &CRLFetcher{
		opts: o,
		log:  log,
		client: &http.Client{Transport: transport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= crlMaxRedirects {
				return fmt.Errorf("more than %d redirects", crlMaxRedirects)
			}
			if req.URL.Scheme != "http" {
				return fmt.Errorf("redirected to a %s URL; only http is followed", req.URL.Scheme)
			}
			return nil
		}},
		points:     map[string]*crlPoint{},
		retryFirst: crlRetryFirst,
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f, nil
}

// CRL returns the list held for rawURL. The first call for a URL reads its
// cached copy or, when there is none or it has expired, fetches it; with
// wait it waits for that fetch, which calls for the same URL share,
// without it returns gantrytls.ErrCRLPending meanwhile. After a failed
// first fetch, calls fail at once until a background retry succeeds.
func (f *CRLFetcher) CRL(rawURL string, wait bool) (*gantrytls.FetchedCRL, error) {
	p, err := f.point(rawURL)
	if err != nil {
		return nil, err
	}
	if c := p.cur.Load(); c != nil {
		return c, nil
	}
	if !wait {
		select {
		case <-p.ready:
		default:
			return nil, gantrytls.ErrCRLPending
		}
	}
	bound := time.NewTimer(f.opts.Timeout + time.Second)
	defer bound.Stop()
	select {
	case <-p.ready:
	case <-bound.C:
	case <-f.ctx.Done():
	}
	if c := p.cur.Load(); c != nil {
		return c, nil
	}
	if e := p.err.Load(); e != nil {
		return nil, *e
	}
	return nil, fmt.Errorf("no CRL from %s yet", rawURL)
}

// Watch starts keeping the lists at urls without waiting for them: the
// distribution points of the configured CAs, known before any client.
func (f *CRLFetcher) Watch(urls []string) {
	for _, u := range urls {
		if _, err := f.point(u); err != nil {
			f.log.Warn("CRL distribution point of a client CA not followed", "url", u, "reason", err.Error())
		}
	}
}

// point returns the point of rawURL, starting its keeper the first time.
func (f *CRLFetcher) point(rawURL string) (*crlPoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.points[rawURL]; ok {
		return p, nil
	}
	if err := checkCRLURL(rawURL); err != nil {
		return nil, err
	}
	if f.closed {
		return nil, fmt.Errorf("CRL from %s not fetched: the server is closed", rawURL)
	}
	if len(f.points) >= f.opts.MaxURLs {
		if !f.full.Swap(true) {
			f.log.Warn("CRL distribution points beyond crl_fetch.max_urls are not followed", "max_urls", f.opts.MaxURLs, "url", rawURL)
		}
		return nil, fmt.Errorf("CRL from %s not fetched: crl_fetch.max_urls (%d) distribution points are followed already", rawURL, f.opts.MaxURLs)
	}
	p := &crlPoint{url: rawURL, file: crlCacheFile(f.opts.CacheDir, rawURL), ready: make(chan struct{})}
	f.points[rawURL] = p
	f.wg.Add(1)
	go f.keep(p)
	return p, nil
}

func checkCRLURL(rawURL string) error {
	if len(rawURL) > crlMaxURLLength {
		return fmt.Errorf("CRL distribution point URL longer than %d bytes", crlMaxURLLength)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("CRL distribution point %q: %w", rawURL, err)
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil {
		return fmt.Errorf("CRL distribution point %q is not an http://host/… URL", rawURL)
	}
	return nil
}

// Close stops every background fetch and waits for them to end. Lists
// already held are still returned afterwards; nothing new is fetched.
func (f *CRLFetcher) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	f.client.CloseIdleConnections()
	return nil
}

// keep gets p its first copy, then refreshes it until Close.
func (f *CRLFetcher) keep(p *crlPoint) {
	defer f.wg.Done()
	cached, err := readCachedCRL(p.file, f.opts.MaxBytes)
	switch {
	case err == nil:
		p.cur.Store(cached)
	case !errors.Is(err, fs.ErrNotExist):
		f.log.Warn("cached CRL copy unusable; fetching it again", "url", p.url, "file", p.file, "reason", err.Error())
	}
	failures := 0
	// A copy from disk may be old: it serves at once, and is refreshed
	// right away in the background.
	soon := p.cur.Load() != nil
	if c := p.cur.Load(); c == nil || f.expired(c, time.Now()) {
		soon = false
		if f.refresh(p) != nil {
			failures++
		}
	}
	close(p.ready)
	for {
		wait := f.nextFetch(p.cur.Load(), failures, time.Now())
		if soon {
			wait, soon = 0, false
		}
		timer := time.NewTimer(wait)
		select {
		case <-f.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if f.refresh(p) != nil {
			failures++
		} else {
			failures = 0
		}
	}
}

func (f *CRLFetcher) expired(c *gantrytls.FetchedCRL, now time.Time) bool {
	next := c.List().NextUpdate
	return !next.IsZero() && !now.Before(next)
}

// nextFetch is how long to wait before fetching again: backing off after
// failures (or a served list that has already expired), otherwise until
// RefreshBefore ahead of the held list's NextUpdate.
func (f *CRLFetcher) nextFetch(c *gantrytls.FetchedCRL, failures int, now time.Time) time.Duration {
	if failures > 0 || c == nil || f.expired(c, now) {
		n := max(failures, 1)
		d := f.retryFirst
		for i := 1; i < n && d < crlRetryMax; i++ {
			d *= 2
		}
		return min(d, crlRetryMax)
	}
	next := c.List().NextUpdate
	if next.IsZero() {
		return crlNoNextUpdate
	}
	at := next.Add(-f.opts.RefreshBefore)
	if !at.After(now) {
		at = now.Add(next.Sub(now) / 2)
	}
	return max(at.Sub(now), crlRefreshMin)
}

// refresh fetches p's list once and, when it is at least as new as the one
// held, keeps it in memory and on disk. A failure is logged with the URL
// and the reason and leaves the held list in place.
func (f *CRLFetcher) refresh(p *crlPoint) error {
	list, err := f.fetch(p.url)
	if err == nil {
		err = f.accept(p, list)
	}
	if err != nil {
		if p.cur.Load() == nil {
			p.err.Store(&err)
		}
		f.count("error")
		f.log.Warn("CRL fetch failed", "url", p.url, "reason", err.Error())
		return err
	}
	return nil
}

// accept takes a fetched list unless it is older than the one held: a
// plain-http fetch can be answered by anyone on the path, and an older
// list, validly signed, would forget revocations.
func (f *CRLFetcher) accept(p *crlPoint, list *x509.RevocationList) error {
	if cur := p.cur.Load(); cur != nil {
		held := cur.List()
		if list.ThisUpdate.Before(held.ThisUpdate) ||
			(list.Number != nil && held.Number != nil && list.Number.Cmp(held.Number) < 0) {
			return fmt.Errorf("the CRL served (thisUpdate %s) is older than the one held (thisUpdate %s); keeping the one held",
				list.ThisUpdate.UTC().Format(time.RFC3339), held.ThisUpdate.UTC().Format(time.RFC3339))
		}
		if string(list.Raw) == string(held.Raw) {
			f.count("unchanged")
			return nil
		}
	}
	// On disk first, so that a list in use is one a restart finds.
	if err := writeCachedCRL(p.file, list.Raw); err != nil {
		f.log.Warn("CRL fetched but its copy not kept", "url", p.url, "file", p.file, "reason", err.Error())
	}
	p.cur.Store(gantrytls.NewFetchedCRL(list))
	p.err.Store(nil)
	f.count("ok")
	return nil
}

func (f *CRLFetcher) count(result string) {
	if f.onFetch != nil {
		f.onFetch(result)
	}
	if f.opts.OnFetch != nil {
		f.opts.OnFetch(result)
	}
}

// fetch GETs rawURL within Timeout and parses the body, DER or PEM, of at
// most MaxBytes.
func (f *CRLFetcher) fetch(rawURL string) (*x509.RevocationList, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "gantry-crl-fetch")
	req.Header.Set("Accept", "application/pkix-crl")
	resp, err := f.client.Do(req) // #nosec G107 -- the URL is a distribution point of a verified chain's certificate
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return nil, fmt.Errorf("CRL of %d bytes is larger than crl_fetch.max_bytes (%d)", resp.ContentLength, f.opts.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the CRL: %w", err)
	}
	if int64(len(body)) > f.opts.MaxBytes {
		return nil, fmt.Errorf("CRL larger than crl_fetch.max_bytes (%d)", f.opts.MaxBytes)
	}
	return parseCRLBody(body)
}

// parseCRLBody reads a CRL in DER, as RFC 5280 distribution points serve
// it, or in PEM, as some do.
func parseCRLBody(body []byte) (*x509.RevocationList, error) {
	der := body
	if block, _ := pem.Decode(body); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block is %q, want \"X509 CRL\"", block.Type)
		}
		der = block.Bytes
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("not a CRL: %w", err)
	}
	return list, nil
}
