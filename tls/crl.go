package tls

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// AlertCertificateRevoked is sent to a client whose chain a CRL revokes.
const AlertCertificateRevoked Alert = 44

// CRLExpiredPolicy says what happens when a CRL's NextUpdate has passed.
type CRLExpiredPolicy int

const (
	// CRLExpiredHard refuses every certificate whose issuer's CRL has
	// expired: without a current list, revocation cannot be known.
	CRLExpiredHard CRLExpiredPolicy = iota
	// CRLExpiredSoft logs a warning (once per loaded CRL) and keeps
	// checking against the expired list.
	CRLExpiredSoft
)

var crlExpiredNames = []string{"hard", "soft"}

func (p CRLExpiredPolicy) String() string {
	if p >= 0 && int(p) < len(crlExpiredNames) {
		return crlExpiredNames[p]
	}
	return fmt.Sprintf("CRLExpiredPolicy(%d)", int(p))
}

func (p CRLExpiredPolicy) valid() bool { return p == CRLExpiredHard || p == CRLExpiredSoft }

// MarshalText writes hard or soft.
func (p CRLExpiredPolicy) MarshalText() ([]byte, error) {
	if !p.valid() {
		return nil, fmt.Errorf("tls: invalid expired-CRL policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads hard or soft.
func (p *CRLExpiredPolicy) UnmarshalText(text []byte) error {
	for i, n := range crlExpiredNames {
		if n == string(text) {
			*p = CRLExpiredPolicy(i)
			return nil
		}
	}
	return fmt.Errorf("tls: unknown expired-CRL policy %q (want hard or soft)", text)
}

// RevokedError is the reason a certificate of a verified chain was refused
// by a CRL: it is listed, or its issuer's CRL has expired under
// CRLExpiredHard. It names the certificate by subject and serial only.
type RevokedError struct {
	Subject string
	Serial  string // hexadecimal
	Issuer  string
	// Expired is set when the CRL has expired rather than listing the
	// certificate; NextUpdate is then when it expired.
	Expired    bool
	NextUpdate time.Time
}

func (e *RevokedError) Error() string {
	if e.Expired {
		return fmt.Sprintf("the CRL of issuer %q expired at %s, so certificate %q (serial %s) cannot be checked for revocation",
			e.Issuer, e.NextUpdate.UTC().Format(time.RFC3339), e.Subject, e.Serial)
	}
	return fmt.Sprintf("certificate %q (serial %s) is revoked by the CRL of issuer %q", e.Subject, e.Serial, e.Issuer)
}

// crlSet is the compiled form of a server's CRLs: each list with its
// revoked serials indexed, and the issuers whose signature on it has been
// checked. Issuers are usually intermediates sent by the client, so the
// signature can only be checked during the handshake; the result is kept.
type crlSet struct {
	lists  []*crlEntry
	policy CRLExpiredPolicy
	log    *slog.Logger
}

type crlEntry struct {
	list    *x509.RevocationList
	revoked map[string]struct{} // serial numbers, as big.Int.Text(16)

	mu     sync.Mutex
	signed map[string]bool // issuer certificate DER → signature checks out
	warned atomic.Bool
}

// signedCacheLimit bounds the issuers remembered per CRL; the chains come
// from clients, although only from verified ones.
const signedCacheLimit = 64

func newCRLSet(lists []*x509.RevocationList, policy CRLExpiredPolicy, log *slog.Logger) *crlSet {
	if len(lists) == 0 {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	s := &crlSet{policy: policy, log: log}
	for _, l := range lists {
		s.lists = append(s.lists, newCRLEntry(l))
	}
	return s
}

// newCRLEntry indexes the revoked serials of l.
func newCRLEntry(l *x509.RevocationList) *crlEntry {
	e := &crlEntry{list: l, revoked: make(map[string]struct{}, len(l.RevokedCertificateEntries)), signed: map[string]bool{}}
	for _, r := range l.RevokedCertificateEntries {
		if r.SerialNumber != nil {
			e.revoked[r.SerialNumber.Text(16)] = struct{}{}
		}
	}
	return e
}

// signedBy reports whether issuer signed the CRL.
func (e *crlEntry) signedBy(issuer *x509.Certificate) bool {
	e.mu.Lock()
	ok, known := e.signed[string(issuer.Raw)]
	e.mu.Unlock()
	if known {
		return ok
	}
	ok = e.list.CheckSignatureFrom(issuer) == nil
	e.mu.Lock()
	if len(e.signed) < signedCacheLimit {
		e.signed[string(issuer.Raw)] = ok
	}
	e.mu.Unlock()
	return ok
}

// filter returns the chains in which no certificate is revoked, or the
// reason the first chain is refused when none is left.
func (s *crlSet) filter(chains [][]*x509.Certificate, now time.Time) ([][]*x509.Certificate, error) {
	var kept [][]*x509.Certificate
	var first error
	for _, chain := range chains {
		if err := s.check(chain, now); err != nil {
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

// check looks up every certificate of chain but the trusted root in the
// CRLs of its issuer: those that name the issuer and carry its signature.
func (s *crlSet) check(chain []*x509.Certificate, now time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		for _, e := range s.lists {
			if !bytes.Equal(e.list.RawIssuer, cert.RawIssuer) || !e.signedBy(issuer) {
				continue
			}
			if err := e.judge(cert, issuer, now, s.policy, s.log); err != nil {
				return err
			}
		}
	}
	return nil
}

// judge looks cert up in e, a CRL of issuer that carries its signature. An
// expired e refuses cert under CRLExpiredHard and is still checked, after
// one warning, under CRLExpiredSoft.
func (e *crlEntry) judge(cert, issuer *x509.Certificate, now time.Time, policy CRLExpiredPolicy, log *slog.Logger) error {
	if !e.list.NextUpdate.IsZero() && now.After(e.list.NextUpdate) {
		if policy == CRLExpiredHard {
			return &RevokedError{Subject: cert.Subject.String(), Serial: cert.SerialNumber.Text(16),
				Issuer: issuer.Subject.String(), Expired: true, NextUpdate: e.list.NextUpdate}
		}
		if !e.warned.Swap(true) {
			log.Warn("CRL has expired; accepting clients of its issuer anyway (client_auth.crl_expired: soft)",
				"issuer", issuer.Subject.String(), "next_update", e.list.NextUpdate.UTC().Format(time.RFC3339))
		}
	}
	if _, revoked := e.revoked[cert.SerialNumber.Text(16)]; revoked {
		return &RevokedError{Subject: cert.Subject.String(), Serial: cert.SerialNumber.Text(16), Issuer: issuer.Subject.String()}
	}
	return nil
}
