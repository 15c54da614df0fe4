package certs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPEventKind says what happened to a certificate's staple.
type OCSPEventKind string

// The kinds of OCSPEvent.
const (
	// OCSPStapled: a response is stapled at load (from its file, the cache
	// or the responder).
	OCSPStapled OCSPEventKind = "stapled"
	// OCSPRefreshed: a newer response replaced the stapled one, for new
	// handshakes from now on.
	OCSPRefreshed OCSPEventKind = "refreshed"
	// OCSPExpired: the stapled response reached its NextUpdate before a
	// newer one could be had; the certificate is served without a staple.
	OCSPExpired OCSPEventKind = "expired"
	// OCSPFailed: a fetch or a file read gave no good response; whatever is
	// stapled stays until it expires, and it is tried again.
	OCSPFailed OCSPEventKind = "failed"
)

// OCSPEvent is one change, or failed change, of a certificate's staple.
type OCSPEvent struct {
	Kind OCSPEventKind
	// Certificate is the index of the certificate in ServerFiles.Certificates.
	Certificate int
	// MustStaple: the certificate is must-staple and the policy enforces it.
	MustStaple bool
	// ThisUpdate and NextUpdate are the stapled response's (stapled,
	// refreshed); RefreshAt is when the next refresh is due: half-way
	// between them.
	ThisUpdate, NextUpdate, RefreshAt time.Time
	// Err is why, for expired and failed.
	Err error
}

// Retry delays after a refresh that brought nothing new.
const (
	ocspRetryMin     = time.Second
	ocspRetryMax     = 10 * time.Minute
	ocspRetryNoStale = time.Minute // when nothing is stapled at all
)

type fingerprint [32]byte

// stapler keeps the good OCSP responses of a Server's certificates and
// refreshes them in the background. Responses are kept by the leaf's
// fingerprint, so a reload that changes the certificates never staples one
// certificate's response on another. Its mutex is taken inside the
// Server's slot lock (compile) and never held across a fetch.
type stapler struct {
	opts OCSPOptions
	log  *slog.Logger

	mu    sync.Mutex
	mem   map[fingerprint]*ocsp.Response // the good response stapled, by leaf
	retry map[fingerprint]time.Time      // no refresh before this, after one that failed
	set   ServerSet                      // the set last compiled

	ctx    context.Context // cancelled by close: ends a fetch in flight
	cancel context.CancelFunc
	kick   chan struct{}
	done   chan struct{}
}

func newStapler(opts OCSPOptions, log *slog.Logger) *stapler {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &stapler{
		opts: opts, log: log,
		mem: map[fingerprint]*ocsp.Response{}, retry: map[fingerprint]time.Time{},
		ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1),
	}
}

func leafPrint(s stapleSlot) fingerprint { return sha256.Sum256(s.leaf.Raw) }

func refreshAt(r *ocsp.Response) time.Time {
	return r.ThisUpdate.Add(r.NextUpdate.Sub(r.ThisUpdate) / 2)
}

// fresher returns the later of two good responses (either may be nil),
// ignoring one that is no longer current.
func fresher(a, b *ocsp.Response, now time.Time) *ocsp.Response {
	if a != nil && !now.Before(a.NextUpdate) {
		a = nil
	}
	if b != nil && !now.Before(b.NextUpdate) {
		b = nil
	}
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.ThisUpdate.After(a.ThisUpdate):
		return b
	}
	return a
}

// prepare staples set's certificates for compiling: the freshest of what
// Load read (file or cache) and what is kept in memory, else a response
// fetched now. A must-staple certificate without one is an error at its
// field: the server is not compiled.
func (st *stapler) prepare(set *ServerSet) error {
	var errs fieldErrors
	for _, slot := range set.staples {
		fp := leafPrint(slot)
		st.mu.Lock()
		r := fresher(st.mem[fp], slot.resp, time.Now())
		st.mu.Unlock()
		source := "memory"
		if r == slot.resp && r != nil {
			source = "file"
			if slot.src.Fetch {
				source = "cache"
			}
		}
		var fetchErr error
		if r == nil && slot.src.Fetch {
			r, fetchErr = fetchOCSP(st.ctx, slot.leaf, slot.issuer, st.opts.timeout(), st.opts.maxBytes())
			source = "responder"
			if fetchErr == nil {
				st.cache(slot, r)
			}
		}
		if r == nil {
			if slot.must {
				err := fetchErr
				if err == nil {
					err = errNoSource
				}
				errs.addf(slot.field+".fetch", "certificate %q is must-staple and no good OCSP response could be had: %w", slot.leaf.Subject, err)
				continue
			}
			if fetchErr != nil {
				st.mu.Lock()
				st.retry[fp] = time.Now().Add(ocspRetryNoStale)
				st.mu.Unlock()
				st.event(OCSPEvent{Kind: OCSPFailed, Certificate: slot.index, Err: fetchErr}, "")
			}
			set.Certificates[slot.index].OCSPStaple = nil
			continue
		}
		set.Certificates[slot.index].OCSPStaple = r.Raw
		st.mu.Lock()
		old := st.mem[fp]
		st.mem[fp] = r
		st.mu.Unlock()
		if old != r {
			st.event(OCSPEvent{Kind: OCSPStapled, Certificate: slot.index, MustStaple: slot.must,
				ThisUpdate: r.ThisUpdate, NextUpdate: r.NextUpdate, RefreshAt: refreshAt(r)}, source)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// commit records set as the one compiled and wakes the refresher, whose
// schedule depends on it.
func (st *stapler) commit(set ServerSet) {
	st.mu.Lock()
	st.set = set
	st.mu.Unlock()
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// current is the last compiled set with the responses in memory stapled:
// what a refresh compiles. An expired response is never stapled.
func (st *stapler) current() ServerSet {
	st.mu.Lock()
	defer st.mu.Unlock()
	set := st.set
	set.Certificates = slices.Clone(set.Certificates)
	now := time.Now()
	for _, slot := range set.staples {
		c := &set.Certificates[slot.index]
		c.OCSPStaple = nil
		if r := st.mem[leafPrint(slot)]; r != nil && now.Before(r.NextUpdate) {
			c.OCSPStaple = r.Raw
		}
	}
	return set
}

func (st *stapler) cache(slot stapleSlot, r *ocsp.Response) {
	if st.opts.CacheDir == "" || !slot.src.Fetch {
		return
	}
	if err := writeCache(st.opts.CacheDir, slot.leaf, r.Raw); err != nil {
		st.log.Warn("ocsp: cannot write the response cache", "certificate", slot.index, "dir", st.opts.CacheDir, "err", err)
	}
}

// run refreshes staples until close: each at half its validity, dropping
// one at its NextUpdate, and calls restaple whenever what is stapled
// changed.
func (st *stapler) run(restaple func() error) {
	defer close(st.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(st.nextWake(time.Now()))
		select {
		case <-st.ctx.Done():
			return
		case <-st.kick:
		case <-timer.C:
		}
		changed, happened := st.refresh(time.Now())
		if changed {
			if err := restaple(); err != nil && st.ctx.Err() == nil {
				st.log.Error("ocsp: the refreshed staples could not be compiled; the previous ones stay", "err", err)
			}
		}
		// Told after the swap, so that whoever hears of a refresh (or an
		// expiry) sees it in the next handshake.
		for _, e := range happened {
			st.event(e, "")
		}
	}
}

// due is when slot next needs work: its refresh (or retry), or the expiry
// of what is stapled, whichever comes first. Called with mu held.
func (st *stapler) due(slot stapleSlot, now time.Time) time.Time {
	fp := leafPrint(slot)
	r := st.mem[fp]
	at := now
	if r != nil {
		at = refreshAt(r)
	}
	if t, ok := st.retry[fp]; ok && t.After(at) {
		at = t
	}
	if r != nil && r.NextUpdate.Before(at) {
		at = r.NextUpdate
	}
	return at
}

func (st *stapler) nextWake(now time.Time) time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	wait := 24 * time.Hour
	for _, slot := range st.set.staples {
		if d := st.due(slot, now).Sub(now); d < wait {
			wait = d
		}
	}
	return max(wait, 0)
}

// refresh does what is due and reports whether what is stapled changed,
// with the events to tell once the change is compiled in.
func (st *stapler) refresh(now time.Time) (changed bool, happened []OCSPEvent) {
	st.mu.Lock()
	slots := slices.Clone(st.set.staples)
	st.mu.Unlock()
	for _, slot := range slots {
		fp := leafPrint(slot)
		st.mu.Lock()
		due := st.due(slot, now)
		cur := st.mem[fp]
		expired := cur != nil && !now.Before(cur.NextUpdate)
		if expired {
			delete(st.mem, fp)
		}
		st.mu.Unlock()
		if expired {
			changed = true
			happened = append(happened, OCSPEvent{Kind: OCSPExpired, Certificate: slot.index, MustStaple: slot.must,
				Err: fmt.Errorf("the stapled OCSP response expired at %s", cur.NextUpdate.UTC().Format(time.RFC3339))})
			cur = nil
		}
		if now.Before(due) {
			continue
		}
		r, err := st.obtain(slot, now)
		stale := err == nil && cur != nil && !r.ThisUpdate.After(cur.ThisUpdate)
		if err != nil || stale {
			st.mu.Lock()
			st.retry[fp] = now.Add(retryDelay(cur, now))
			st.mu.Unlock()
			switch {
			case stale:
				// A responder that serves pre-signed responses, or a file
				// not yet rewritten: normal, and asked again later.
				st.log.Debug("ocsp: no newer response than the one stapled yet", "certificate", slot.index)
			case st.ctx.Err() == nil:
				happened = append(happened, OCSPEvent{Kind: OCSPFailed, Certificate: slot.index, MustStaple: slot.must, Err: err})
			}
			continue
		}
		st.cache(slot, r)
		st.mu.Lock()
		st.mem[fp] = r
		delete(st.retry, fp)
		st.mu.Unlock()
		changed = true
		happened = append(happened, OCSPEvent{Kind: OCSPRefreshed, Certificate: slot.index, MustStaple: slot.must,
			ThisUpdate: r.ThisUpdate, NextUpdate: r.NextUpdate, RefreshAt: refreshAt(r)})
	}
	return changed, happened
}

// obtain reads a slot's source anew.
func (st *stapler) obtain(slot stapleSlot, now time.Time) (*ocsp.Response, error) {
	switch {
	case slot.src.File != "":
		return readOCSPFile(slot.src.File, slot.leaf, slot.issuer, now)
	case slot.src.Fetch:
		return fetchOCSP(st.ctx, slot.leaf, slot.issuer, st.opts.timeout(), st.opts.maxBytes())
	}
	return nil, errNoSource
}

// retryDelay spaces out attempts: a tenth of what is left of the stapled
// response, within bounds, so a failing responder is asked more often as
// the staple nears its end but never hammered.
func retryDelay(cur *ocsp.Response, now time.Time) time.Duration {
	if cur == nil {
		return ocspRetryNoStale
	}
	return min(max(cur.NextUpdate.Sub(now)/10, ocspRetryMin), ocspRetryMax)
}

// event logs e and hands it to OnEvent. Losing a must-staple certificate's
// staple is an error: clients that honour must-staple now refuse it.
func (st *stapler) event(e OCSPEvent, source string) {
	attrs := []any{"certificate", e.Certificate}
	if e.MustStaple {
		attrs = append(attrs, "must_staple", true)
	}
	switch e.Kind {
	case OCSPStapled, OCSPRefreshed:
		attrs = append(attrs, "this_update", e.ThisUpdate.UTC(), "next_update", e.NextUpdate.UTC(), "refresh_at", e.RefreshAt.UTC())
		if source != "" {
			attrs = append(attrs, "source", source)
		}
		st.log.Info("ocsp: staple "+string(e.Kind), attrs...)
	case OCSPExpired:
		attrs = append(attrs, "err", e.Err)
		st.log.Error("ocsp: staple expired before a fresh response could be had; the certificate is served without one", attrs...)
	case OCSPFailed:
		attrs = append(attrs, "err", e.Err)
		if e.MustStaple {
			st.log.Error("ocsp: no fresh response for a must-staple certificate", attrs...)
		} else {
			st.log.Warn("ocsp: no fresh response", attrs...)
		}
	}
	if st.opts.OnEvent != nil {
		st.opts.OnEvent(e)
	}
}

// close stops the refresher and waits for it; a fetch in flight is
// cancelled.
func (st *stapler) close() {
	st.cancel()
	if st.done != nil {
		<-st.done
	}
}
