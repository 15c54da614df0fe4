package tls

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// CRLSource supplies the CRLs published at the distribution points of the
// certificates in verified client chains. The verifier asks it only for
// URLs taken from certificates whose chain it has just verified, so a
// client without a trusted certificate cannot make the source fetch
// anything. The source itself knows nothing of issuers: whatever it
// returns is used only if it names the issuer of the certificate being
// checked and carries that issuer's signature.
type CRLSource interface {
	// CRL returns the copy of the CRL published at url that the source
	// holds. With wait, it gets one first when it has none, which may
	// take as long as one bounded fetch; without, it never waits and
	// returns ErrCRLPending while a first fetch is under way. Any other
	// error means it has no copy; it names url and why, never what was
	// fetched.
	CRL(url string, wait bool) (*FetchedCRL, error)
}

// ErrCRLPending is what a CRLSource asked not to wait returns while the
// first fetch of a list is under way.
var ErrCRLPending = errors.New("the CRL is still being fetched")

// FetchedCRL is a CRL from a distribution point, indexed once for the
// lookups of every handshake that uses it. Make one with NewFetchedCRL
// each time a new list arrives.
type FetchedCRL struct {
	entry *crlEntry
}

// NewFetchedCRL indexes l for lookups.
func NewFetchedCRL(l *x509.RevocationList) *FetchedCRL {
	return &FetchedCRL{entry: newCRLEntry(l)}
}

// List is the parsed CRL.
func (c *FetchedCRL) List() *x509.RevocationList { return c.entry.list }

// CRLUnavailableError is the reason a certificate of a verified chain was
// refused under CRLExpiredHard when no CRL of its issuer could be had from
// any of its distribution points.
type CRLUnavailableError struct {
	Subject string
	Serial  string // hexadecimal
	Issuer  string
	// URLs are the distribution points tried; Err is why the last one
	// gave no usable list.
	URLs []string
	Err  error
}

func (e *CRLUnavailableError) Error() string {
	return fmt.Sprintf("no CRL of issuer %q could be had from %s, so certificate %q (serial %s) cannot be checked for revocation: %v",
		e.Issuer, strings.Join(e.URLs, ", "), e.Subject, e.Serial, e.Err)
}

func (e *CRLUnavailableError) Unwrap() error { return e.Err }

// maxPointsPerCert bounds the distribution points tried for one
// certificate: they are alternative locations of the same list, and a
// certificate listing dozens is not worth as many fetches.
const maxPointsPerCert = 4

// unavailableWarnEvery spaces the warnings about one distribution point
// under CRLExpiredSoft, which would otherwise come with every handshake.
const unavailableWarnEvery = time.Minute

// fetchedCRLs checks verified chains against the CRLs a CRLSource fetches
// from their certificates' distribution points.
type fetchedCRLs struct {
	source CRLSource
	policy CRLExpiredPolicy
	log    *slog.Logger

	mu     sync.Mutex
	warned map[string]time.Time // distribution point → last soft warning
}

func newFetchedCRLs(source CRLSource, policy CRLExpiredPolicy, log *slog.Logger) *fetchedCRLs {
	if source == nil {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	return &fetchedCRLs{source: source, policy: policy, log: log, warned: map[string]time.Time{}}
}

// filter returns the chains in which no certificate is revoked, as
// crlSet.filter does. Without wait, it returns ErrCRLPending as soon as a
// chain's verdict needs a list still being fetched.
func (f *fetchedCRLs) filter(chains [][]*x509.Certificate, now time.Time, wait bool) ([][]*x509.Certificate, error) {
	var kept [][]*x509.Certificate
	var first error
	for _, chain := range chains {
		if err := f.check(chain, now, wait); err != nil {
			if errors.Is(err, ErrCRLPending) {
				return nil, err
			}
			if first == nil {
				first = err
			}
			continue
		}
		kept = append(kept, chain)
	}
	if len(kept) == 0 {
		return nil, first
	}
	return kept, nil
}

// check looks up every certificate of chain but the trusted root that
// names an http distribution point in the first list fetched from one of
// them that its issuer signed.
func (f *fetchedCRLs) check(chain []*x509.Certificate, now time.Time, wait bool) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		urls := httpDistributionPoints(cert)
		if len(urls) == 0 {
			continue
		}
		var usable *crlEntry
		var why error
		for _, u := range urls {
			c, err := f.source.CRL(u, wait)
			if errors.Is(err, ErrCRLPending) {
				return err
			}
			if err != nil {
				why = err
				continue
			}
			if !bytes.Equal(c.entry.list.RawIssuer, cert.RawIssuer) || !c.entry.signedBy(issuer) {
				why = fmt.Errorf("the CRL at %s is not signed by issuer %q", u, issuer.Subject.String())
				continue
			}
			usable = c.entry
			break
		}
		if usable == nil {
			if f.policy == CRLExpiredHard {
				return &CRLUnavailableError{Subject: cert.Subject.String(), Serial: cert.SerialNumber.Text(16),
					Issuer: issuer.Subject.String(), URLs: urls, Err: why}
			}
			f.warnUnavailable(urls[0], issuer, why, now)
			continue
		}
		if err := usable.judge(cert, issuer, now, f.policy, f.log); err != nil {
			return err
		}
	}
	return nil
}

func (f *fetchedCRLs) warnUnavailable(url string, issuer *x509.Certificate, why error, now time.Time) {
	f.mu.Lock()
	last, seen := f.warned[url]
	warn := !seen || now.Sub(last) >= unavailableWarnEvery
	if warn {
		if len(f.warned) >= signedCacheLimit {
			clear(f.warned)
		}
		f.warned[url] = now
	}
	f.mu.Unlock()
	if warn {
		f.log.Warn("no CRL from the distribution point; accepting clients of its issuer unchecked (client_auth.crl_expired: soft)",
			"url", url, "issuer", issuer.Subject.String(), "reason", why.Error())
	}
}

// httpDistributionPoints are cert's CRL distribution points that are
// http URLs, at most maxPointsPerCert. Other schemes (ldap, and https,
// whose fetch would need TLS and revocation checks of its own) are not
// fetched.
func httpDistributionPoints(cert *x509.Certificate) []string {
	var out []string
	for _, u := range cert.CRLDistributionPoints {
		if len(u) > len("http://") && strings.EqualFold(u[:len("http://")], "http://") {
			out = append(out, u)
			if len(out) == maxPointsPerCert {
				break
			}
		}
	}
	return out
}

// HTTPDistributionPoints are the CRL distribution points of cert that a
// CRLSource is asked for: its http URLs, at most four.
func HTTPDistributionPoints(cert *x509.Certificate) []string {
	return httpDistributionPoints(cert)
}
