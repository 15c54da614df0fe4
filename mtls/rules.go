package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// Match values: whether every listed rule kind must match, or one is enough.
const (
	MatchAll = "all"
	MatchAny = "any"
)

// Rules say which verified client certificates are allowed. Within a kind
// any listed value matches; Match says whether every listed kind must match
// (all, the default) or one is enough (any). Empty Rules allow every
// verified certificate.
type Rules struct {
	// Match is "all" (the default: every listed kind must match) or "any".
	Match string `yaml:"match"`
	// DNS are DNS SANs, case-insensitive; "*.example.com" matches exactly
	// one label in front of example.com.
	DNS []string `yaml:"dns"`
	// URI are URI SAN patterns such as spiffe://example.org/ns/prod/sa/web.
	// A path segment "*" matches exactly one non-empty segment; a last
	// segment "**" matches one or more. Wildcards stand for whole segments
	// only, and never in the scheme or host.
	URI []string `yaml:"uri"`
	// Email are email SANs, case-insensitive; "@example.com" matches any
	// address at that domain.
	Email []string `yaml:"email"`
	// CN are subject common names, exact.
	CN []string `yaml:"cn"`
	// O and OU are subject organisations and organisational units, exact:
	// one of the certificate's values must be listed.
	O  []string `yaml:"o"`
	OU []string `yaml:"ou"`
	// Issuer names the issuing CA: a value with "=" in it is the issuer's
	// whole distinguished name in RFC 2253 form ("CN=Clients CA,O=Example"),
	// any other value its common name.
	Issuer []string `yaml:"issuer"`
	// SPKISHA256 are SHA-256 digests of the certificate's
	// SubjectPublicKeyInfo, as 64 hex digits (colons allowed) or base64.
	SPKISHA256 []string `yaml:"spki_sha256"`
}

// Empty reports whether no rule kind is listed.
func (r *Rules) Empty() bool {
	return len(r.DNS)+len(r.URI)+len(r.Email)+len(r.CN)+len(r.O)+len(r.OU)+len(r.Issuer)+len(r.SPKISHA256) == 0
}

// Reason is why a certificate was refused, from a fixed set: it is safe as a
// metric label.
type Reason string

// The reasons. With match "all" the reason is the first listed kind that did
// not match, in the order below; with match "any" it is ReasonNoneMatched.
const (
	ReasonNoCertificate Reason = "no_certificate"
	ReasonDNS           Reason = "dns"
	ReasonURI           Reason = "uri"
	ReasonEmail         Reason = "email"
	ReasonCN            Reason = "cn"
	ReasonO             Reason = "o"
	ReasonOU            Reason = "ou"
	ReasonIssuer        Reason = "issuer"
	ReasonSPKI          Reason = "spki"
	ReasonNoneMatched   Reason = "none_matched"
)

// Reasons lists every Reason, for metrics that pre-register their series.
func Reasons() []Reason {
	return []Reason{ReasonNoCertificate, ReasonDNS, ReasonURI, ReasonEmail, ReasonCN, ReasonO, ReasonOU, ReasonIssuer, ReasonSPKI, ReasonNoneMatched}
}

// Policy is Rules compiled. A nil *Policy allows everything, so that a
// listener or route without rules costs one nil check.
type Policy struct {
	any      bool
	dns      []string // lower case; "*.x" kept as a wildcard
	uri      []uriPattern
	email    []string // lower case; "@x" for a domain
	cn       []string
	o        []string
	ou       []string
	issuerCN []string
	issuerDN []string
	spki     [][sha256.Size]byte
}

// Compile checks r and compiles it; it returns nil (allow all) for empty
// Rules. Errors name the key ("uri[1]") relative to the rules.
func Compile(r Rules) (*Policy, error) {
	p := &Policy{}
	switch r.Match {
	case "", MatchAll:
	case MatchAny:
		p.any = true
	default:
		return nil, fieldErr("match", "%q is not all or any", r.Match)
	}
	if r.Empty() {
		return nil, nil
	}
	for i, v := range r.DNS {
		v = strings.TrimSuffix(strings.ToLower(v), ".")
		if v == "" || strings.Contains(strings.TrimPrefix(v, "*."), "*") || strings.ContainsAny(v, " /@") {
			return nil, fieldErr(fmt.Sprintf("dns[%d]", i), "%q is not a DNS name (only a leading \"*.\" wildcard is allowed)", r.DNS[i])
		}
		p.dns = append(p.dns, v)
	}
	for i, v := range r.URI {
		up, err := parseURIPattern(v)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("uri[%d]", i), "%q: %v", v, err)
		}
		p.uri = append(p.uri, up)
	}
	for i, v := range r.Email {
		v = strings.ToLower(v)
		at := strings.IndexByte(v, '@')
		if at < 0 || at == len(v)-1 || strings.Count(v, "@") != 1 || strings.ContainsAny(v, " *") {
			return nil, fieldErr(fmt.Sprintf("email[%d]", i), "%q is not an address or an @domain", r.Email[i])
		}
		p.email = append(p.email, v)
	}
	for _, kind := range []struct {
		key string
		in  []string
		dst *[]string
	}{{"cn", r.CN, &p.cn}, {"o", r.O, &p.o}, {"ou", r.OU, &p.ou}} {
		for i, v := range kind.in {
			if v == "" {
				return nil, fieldErr(fmt.Sprintf("%s[%d]", kind.key, i), "is empty")
			}
			*kind.dst = append(*kind.dst, v)
		}
	}
	for i, v := range r.Issuer {
		switch {
		case v == "":
			return nil, fieldErr(fmt.Sprintf("issuer[%d]", i), "is empty")
		case strings.Contains(v, "="):
			p.issuerDN = append(p.issuerDN, v)
		default:
			p.issuerCN = append(p.issuerCN, v)
		}
	}
	for i, v := range r.SPKISHA256 {
		pin, err := parsePin(v)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("spki_sha256[%d]", i), "%v", err)
		}
		p.spki = append(p.spki, pin)
	}
	return p, nil
}

// parsePin reads a SHA-256 digest written as hex (with or without colons)
// or as base64 (standard or URL alphabet, padded or not).
func parsePin(v string) ([sha256.Size]byte, error) {
	var pin [sha256.Size]byte
	h := strings.ReplaceAll(v, ":", "")
	if len(h) == 2*sha256.Size {
		if _, err := hex.Decode(pin[:], []byte(h)); err == nil {
			return pin, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == sha256.Size {
			copy(pin[:], b)
			return pin, nil
		}
	}
	return pin, fmt.Errorf("%q is not a SHA-256 digest in hex (64 digits) or base64 (44 characters)", v)
}

// SPKIHash is the SHA-256 digest of a certificate's SubjectPublicKeyInfo,
// what spki_sha256 pins: `openssl x509 -pubkey -noout | openssl pkey
// -pubin -outform DER | openssl dgst -sha256` prints it.
func SPKIHash(c *x509.Certificate) [sha256.Size]byte {
	return sha256.Sum256(c.RawSubjectPublicKeyInfo)
}

// Check judges a verified leaf certificate; nil means the client sent none.
// It returns "" when the certificate is allowed. A nil Policy allows any
// certificate, and no certificate.
func (p *Policy) Check(leaf *x509.Certificate) Reason {
	if p == nil {
		return ""
	}
	if leaf == nil {
		return ReasonNoCertificate
	}
	checks := [...]struct {
		listed bool
		reason Reason
		match  func(*Policy, *x509.Certificate) bool
	}{
		{len(p.dns) > 0, ReasonDNS, (*Policy).matchDNS},
		{len(p.uri) > 0, ReasonURI, (*Policy).matchURI},
		{len(p.email) > 0, ReasonEmail, (*Policy).matchEmail},
		{len(p.cn) > 0, ReasonCN, (*Policy).matchCN},
		{len(p.o) > 0, ReasonO, (*Policy).matchO},
		{len(p.ou) > 0, ReasonOU, (*Policy).matchOU},
		{len(p.issuerCN)+len(p.issuerDN) > 0, ReasonIssuer, (*Policy).matchIssuer},
		{len(p.spki) > 0, ReasonSPKI, (*Policy).matchSPKI},
	}
	for _, c := range checks {
		if !c.listed {
			continue
		}
		ok := c.match(p, leaf)
		if p.any && ok {
			return ""
		}
		if !p.any && !ok {
			return c.reason
		}
	}
	if p.any {
		return ReasonNoneMatched
	}
	return ""
}

func (p *Policy) matchDNS(c *x509.Certificate) bool {
	for _, san := range c.DNSNames {
		san = strings.TrimSuffix(san, ".")
		for _, want := range p.dns {
			if strings.EqualFold(san, want) {
				return true
			}
			// A wildcard rule stands for one label; a wildcard SAN only
			// matches the identical rule, above.
			if rest, ok := strings.CutPrefix(want, "*"); ok && len(san) > len(rest) && !strings.Contains(san, "*") {
				label, tail := san[:len(san)-len(rest)], san[len(san)-len(rest):]
				if strings.EqualFold(tail, rest) && !strings.Contains(label, ".") {
					return true
				}
			}
		}
	}
	return false
}

func (p *Policy) matchURI(c *x509.Certificate) bool {
	for _, u := range c.URIs {
		for i := range p.uri {
			if p.uri[i].match(u) {
				return true
			}
		}
	}
	return false
}

func (p *Policy) matchEmail(c *x509.Certificate) bool {
	for _, addr := range c.EmailAddresses {
		at := strings.LastIndexByte(addr, '@')
		for _, want := range p.email {
			if strings.EqualFold(addr, want) || (want[0] == '@' && at >= 0 && strings.EqualFold(addr[at:], want)) {
				return true
			}
		}
	}
	return false
}

func (p *Policy) matchCN(c *x509.Certificate) bool {
	return c.Subject.CommonName != "" && anyEqual(p.cn, c.Subject.CommonName)
}

func (p *Policy) matchO(c *x509.Certificate) bool {
	for _, o := range c.Subject.Organization {
		if anyEqual(p.o, o) {
			return true
		}
	}
	return false
}

func (p *Policy) matchOU(c *x509.Certificate) bool {
	for _, ou := range c.Subject.OrganizationalUnit {
		if anyEqual(p.ou, ou) {
			return true
		}
	}
	return false
}

func (p *Policy) matchIssuer(c *x509.Certificate) bool {
	if c.Issuer.CommonName != "" && anyEqual(p.issuerCN, c.Issuer.CommonName) {
		return true
	}
	return len(p.issuerDN) > 0 && anyEqual(p.issuerDN, c.Issuer.String())
}

func (p *Policy) matchSPKI(c *x509.Certificate) bool {
	h := SPKIHash(c)
	for _, pin := range p.spki {
		if pin == h {
			return true
		}
	}
	return false
}

func anyEqual(list []string, v string) bool {
	for _, w := range list {
		if w == v {
			return true
		}
	}
	return false
}

// uriPattern is a URI SAN rule: scheme and host compared without case, the
// path segment by segment.
type uriPattern struct {
	scheme, host string
	segs         []string // "*" one segment; a last "**" one or more
}

func parseURIPattern(v string) (uriPattern, error) {
	u, err := url.Parse(v)
	if err != nil {
		return uriPattern{}, err
	}
	if u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return uriPattern{}, fmt.Errorf("want scheme://host/path")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return uriPattern{}, fmt.Errorf("user info, query and fragment are not allowed")
	}
	if strings.Contains(u.Host, "*") {
		return uriPattern{}, fmt.Errorf("wildcards are allowed in the path only")
	}
	up := uriPattern{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Host)}
	path := u.EscapedPath()
	if path == "" || path == "/" {
		return up, nil
	}
	up.segs = strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, s := range up.segs {
		switch {
		case s == "**" && i != len(up.segs)-1:
			return uriPattern{}, fmt.Errorf("\"**\" is allowed as the last segment only")
		case s == "*" || s == "**":
		case strings.Contains(s, "*"):
			return uriPattern{}, fmt.Errorf("a wildcard must be a whole segment (\"*\" or \"**\")")
		case s == "":
			return uriPattern{}, fmt.Errorf("empty path segment")
		}
	}
	return up, nil
}

// match compares a URI SAN. SANs with user info, a query or a fragment
// never match: no workload identity carries them, and a pattern would
// otherwise have to say how they compare.
func (up *uriPattern) match(u *url.URL) bool {
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return false
	}
	if !strings.EqualFold(u.Scheme, up.scheme) || !strings.EqualFold(u.Host, up.host) {
		return false
	}
	// The escaped path, so that %2F stays inside its segment.
	path := u.EscapedPath()
	if len(up.segs) == 0 {
		return path == "" || path == "/"
	}
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	for i, want := range up.segs {
		if want == "**" {
			// One or more non-empty segments.
			if rest == "" {
				return false
			}
			for s := range strings.SplitSeq(rest, "/") {
				if s == "" {
					return false
				}
			}
			return true
		}
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" || (want != "*" && seg != want) {
			return false
		}
		last := i == len(up.segs)-1
		if last {
			return !more
		}
		if !more {
			return false
		}
		rest = tail
	}
	return false
}

// FieldError is a problem with one key of the rules or forwarding
// settings, relative to them ("uri[1]", "forward.xfcc_cert").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
