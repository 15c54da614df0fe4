package certs

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"time"

	"golang.org/x/crypto/ocsp"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Defaults for fetching OCSP responses from a certificate's responder.
const (
	DefaultOCSPFetchTimeout     = 5 * time.Second
	DefaultOCSPMaxResponseBytes = 64 << 10
)

// OCSPSource says where the OCSP response stapled with one certificate
// comes from: a file the operator keeps current, or the responder named in
// the certificate. At most one may be set; neither staples nothing.
type OCSPSource struct {
	// File is a DER OCSP response (or PEM "OCSP RESPONSE") for the
	// certificate. It is re-read on every reload and at half the validity
	// of the response it held.
	File string `yaml:"file"`
	// Fetch gets the response from the certificate's OCSP responder (its
	// Authority Information Access URL, http only) at start, keeps it in
	// ocsp.cache_dir when that is set, and fetches a new one at half the
	// validity of the last.
	Fetch bool `yaml:"fetch"`
	// Issuer is a PEM file with the certificate of the CA that issued the
	// certificate, for a chain that does not carry it (a leaf issued by a
	// root the chain leaves out): responses are checked against it.
	Issuer string `yaml:"issuer"`
}

// set reports whether the source names a response at all.
func (s OCSPSource) set() bool { return s.File != "" || s.Fetch }

// MustStaplePolicy says what a must-staple certificate (TLS Feature
// status_request, RFC 7633) does without a good staple.
type MustStaplePolicy int

const (
	// MustStapleEnforce (the default) refuses to serve a must-staple
	// certificate without a good OCSP response: the config is refused at
	// check and load time.
	MustStapleEnforce MustStaplePolicy = iota
	// MustStapleIgnore serves it anyway; clients that honour must-staple
	// will refuse it.
	MustStapleIgnore
)

var mustStapleNames = []string{"enforce", "ignore"}

func (p MustStaplePolicy) String() string {
	if p >= 0 && int(p) < len(mustStapleNames) {
		return mustStapleNames[p]
	}
	return fmt.Sprintf("MustStaplePolicy(%d)", int(p))
}

// MarshalText writes the name String returns.
func (p MustStaplePolicy) MarshalText() ([]byte, error) {
	if p < MustStapleEnforce || p > MustStapleIgnore {
		return nil, fmt.Errorf("certs: invalid must-staple policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads enforce or ignore.
func (p *MustStaplePolicy) UnmarshalText(text []byte) error {
	for i, n := range mustStapleNames {
		if n == string(text) {
			*p = MustStaplePolicy(i)
			return nil
		}
	}
	return fmt.Errorf("unknown must-staple policy %q (want enforce or ignore)", text)
}

// OCSPOptions are a server's settings for OCSP stapling, shared by its
// certificates.
type OCSPOptions struct {
	// CacheDir keeps fetched responses across restarts, one file per
	// certificate (mode 0600, written atomically), so that a restart
	// staples at once even with the responder down. It must be an existing
	// directory. Empty keeps them in memory only.
	CacheDir string `yaml:"cache_dir"`
	// FetchTimeout bounds one fetch from a responder; zero means 5s.
	FetchTimeout time.Duration `yaml:"fetch_timeout"`
	// MaxResponseBytes bounds a fetched response; zero means 64 KiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// MustStaple is enforce (the default) or ignore; see MustStaplePolicy.
	MustStaple MustStaplePolicy `yaml:"must_staple"`
	// OnEvent, when set, is told of every staple taken, refreshed, dropped
	// or failed to fetch, after it is logged.
	OnEvent func(OCSPEvent) `yaml:"-"`
}

func (o OCSPOptions) timeout() time.Duration {
	if o.FetchTimeout > 0 {
		return o.FetchTimeout
	}
	return DefaultOCSPFetchTimeout
}

func (o OCSPOptions) maxBytes() int {
	if o.MaxResponseBytes > 0 {
		return o.MaxResponseBytes
	}
	return DefaultOCSPMaxResponseBytes
}

// stapleSlot is what Load learns about one certificate's staple: where it
// comes from, what it is checked against, and the response it holds.
type stapleSlot struct {
	index  int
	field  string // "certificates[i].ocsp"
	src    OCSPSource
	leaf   *x509.Certificate
	issuer *x509.Certificate
	must   bool           // the leaf is must-staple and the policy enforces it
	resp   *ocsp.Response // the good response stapled; nil when none
}

// loadOCSP checks the OCSP settings and reads the responses that come from
// files (File sources, and the cache of Fetch sources), stapling the good
// ones onto set's certificates. It runs after the certificates loaded.
func (f ServerFiles) loadOCSP(errs, warns *fieldErrors, set *ServerSet) {
	o := f.OCSP
	if _, err := o.MustStaple.MarshalText(); err != nil {
		errs.addf("ocsp.must_staple", "invalid must-staple policy %d", int(o.MustStaple))
	}
	if o.FetchTimeout < 0 {
		errs.addf("ocsp.fetch_timeout", "must not be negative")
	}
	if o.MaxResponseBytes < 0 {
		errs.addf("ocsp.max_response_bytes", "must not be negative")
	}
	if o.CacheDir != "" {
		if st, err := os.Stat(o.CacheDir); err != nil || !st.IsDir() {
			errs.addf("ocsp.cache_dir", "%s is not an existing directory", o.CacheDir)
		}
	}
	if len(set.Certificates) != len(f.Certificates) {
		return // a pair failed to load; its error is already there
	}
	now := time.Now()
	for i, kp := range f.Certificates {
		field := fmt.Sprintf("certificates[%d].ocsp", i)
		c := &set.Certificates[i]
		leaf := c.Leaf
		must := gantrytls.MustStaple(leaf) && o.MustStaple == MustStapleEnforce
		src := kp.OCSP
		if !src.set() {
			if src.Issuer != "" {
				errs.addf(field+".issuer", "is set but neither file nor fetch is, so no response would be checked against it")
			}
			if must {
				errs.addf(field, "certificate %q is must-staple (TLS Feature status_request) but no OCSP response is configured: set ocsp.file or ocsp.fetch (or ocsp.must_staple: ignore in the tls section)", leaf.Subject)
			}
			continue
		}
		if src.File != "" && src.Fetch {
			errs.addf(field, "set file or fetch, not both")
			continue
		}
		issuer, err := stapleIssuer(*c, src.Issuer)
		if err != nil {
			errs.add(field+".issuer", err)
			continue
		}
		if src.Fetch {
			if _, err := responderURL(leaf); err != nil {
				errs.add(field+".fetch", err)
				continue
			}
		}
		slot := stapleSlot{index: i, field: field, src: src, leaf: leaf, issuer: issuer, must: must}
		switch {
		case src.File != "":
			resp, err := readOCSPFile(src.File, leaf, issuer, now)
			switch {
			case err == nil:
				slot.resp = resp
			case must:
				errs.addf(field+".file", "certificate %q is must-staple and its OCSP response cannot be stapled: %w", leaf.Subject, err)
			default:
				warns.addf(field+".file", "not stapled: %w", err)
			}
		case o.CacheDir != "":
			if resp, err := readOCSPFile(cacheFile(o.CacheDir, leaf), leaf, issuer, now); err == nil {
				slot.resp = resp
			}
		}
		if slot.resp != nil {
			c.OCSPStaple = slot.resp.Raw
		}
		set.staples = append(set.staples, slot)
	}
}

// stapleIssuer is the certificate a response for c is checked against: the
// file named, else the second certificate of the chain.
func stapleIssuer(c gantrytls.Certificate, file string) (*x509.Certificate, error) {
	if file != "" {
		cas, err := loadCAs(file)
		if err != nil {
			return nil, err
		}
		for _, ca := range cas {
			if c.Leaf.CheckSignatureFrom(ca) == nil {
				return ca, nil
			}
		}
		return nil, fmt.Errorf("%s holds no certificate that signed %q", file, c.Leaf.Subject)
	}
	if len(c.Chain) < 2 {
		return nil, fmt.Errorf("the chain of %q has no issuer certificate after it, which OCSP responses are checked against: add the issuer to the cert file or name it in ocsp.issuer", c.Leaf.Subject)
	}
	issuer, err := x509.ParseCertificate(c.Chain[1])
	if err != nil {
		return nil, err
	}
	if err := c.Leaf.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the second certificate of the chain did not issue %q: %w", c.Leaf.Subject, err)
	}
	return issuer, nil
}

// responderURL is the leaf's first OCSP responder, which must be http.
func responderURL(leaf *x509.Certificate) (string, error) {
	if len(leaf.OCSPServer) == 0 {
		return "", fmt.Errorf("certificate %q names no OCSP responder (no Authority Information Access OCSP URL) to fetch from", leaf.Subject)
	}
	raw := leaf.OCSPServer[0]
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("certificate %q names OCSP responder %q: only http:// responders are fetched from", leaf.Subject, raw)
	}
	return raw, nil
}

// readOCSPFile reads a DER or PEM OCSP response and checks it.
func readOCSPFile(name string, leaf, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	data, err := readFile(name)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "OCSP RESPONSE" {
			return nil, fmt.Errorf("%s: PEM block is %q, want \"OCSP RESPONSE\"", name, block.Type)
		}
		data = block.Bytes
	}
	resp, err := gantrytls.CheckOCSPResponse(data, leaf, issuer, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return resp, nil
}
