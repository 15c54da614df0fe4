package listen

import (
	"fmt"
	"strings"
)

// What a listener does with a ClientHello without a server name.
const (
	SNIMissingAllow  = "allow"
	SNIMissingRefuse = "refuse"
)

// Reasons a ClientHello is refused, the values of the reason label and
// log field.
const (
	ReasonSNINotAllowed = "sni_not_allowed"
	ReasonSNIMissing    = "sni_missing"
	ReasonJA4Denied     = "ja4_denied"
	ReasonJA4NotAllowed = "ja4_not_allowed"
	ReasonHelloTooLarge = "hello_too_large"
	ReasonHelloRecords  = "hello_too_many_records"
	ReasonHelloNotTLS   = "hello_not_tls"
	ReasonHelloBad      = "hello_malformed"
)

// HelloReasons lists every reason a ClientHello can be refused for.
func HelloReasons() []string {
	return []string{ReasonSNINotAllowed, ReasonSNIMissing, ReasonJA4Denied, ReasonJA4NotAllowed,
		ReasonHelloTooLarge, ReasonHelloRecords, ReasonHelloNotTLS, ReasonHelloBad}
}

// SNIOptions is a listener's server name allow-list, judged on the
// ClientHello before the TLS backend answers it.
type SNIOptions struct {
	// Allow, when not empty, lists the only server names clients may ask
	// for: exact names ("api.example.com") or "*.example.com" for any name
	// under example.com (not example.com itself), compared without regard
	// to case or a trailing dot. A client asking for another name gets a
	// fatal unrecognized_name alert before any certificate is sent.
	Allow []string `yaml:"allow"`
	// Missing is what happens to a client that sends no server name at
	// all (clients connecting by IP address): allow (the default) or
	// refuse (the same alert).
	Missing string `yaml:"missing"`
}

// Empty reports whether o asks for nothing.
func (o SNIOptions) Empty() bool { return len(o.Allow) == 0 && o.Missing == "" }

// SNIPolicy is SNIOptions compiled.
type SNIPolicy struct {
	exact         map[string]bool
	suffixes      []string // ".example.com" for "*.example.com"
	refuseMissing bool
}

// NewSNIPolicy compiles o; it returns nil when o is empty, which admits
// everything.
func NewSNIPolicy(o SNIOptions) (*SNIPolicy, error) {
	if o.Empty() {
		return nil, nil
	}
	p := &SNIPolicy{exact: make(map[string]bool)}
	switch o.Missing {
	case "", SNIMissingAllow:
	case SNIMissingRefuse:
		p.refuseMissing = true
	default:
		return nil, &FieldError{Field: "missing", Err: fmt.Errorf("%q (want %s or %s)", o.Missing, SNIMissingAllow, SNIMissingRefuse)}
	}
	for i, name := range o.Allow {
		n, err := normalSNIPattern(name)
		if err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("allow[%d]", i), Err: err}
		}
		if strings.HasPrefix(n, "*.") {
			p.suffixes = append(p.suffixes, n[1:])
		} else {
			p.exact[n] = true
		}
	}
	return p, nil
}

// normalSNIPattern lowercases an allow-list entry and checks it is a name
// or a "*." wildcard over one.
func normalSNIPattern(s string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(s), ".")
	host := strings.TrimPrefix(n, "*.")
	if host == "" || strings.Contains(host, "*") {
		return "", fmt.Errorf("%q: want a DNS name, or \"*.\" and a name", s)
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("%q: empty or over-long label", s)
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("%q: %q is not allowed in a DNS name", s, c)
			}
		}
	}
	return n, nil
}

// Check is "" when the server name (sent tells whether the extension was
// there at all) may be served, or the reason it may not.
func (p *SNIPolicy) Check(name string, sent bool) string {
	if p == nil {
		return ""
	}
	if !sent || name == "" {
		if p.refuseMissing {
			return ReasonSNIMissing
		}
		return ""
	}
	if len(p.exact) == 0 && len(p.suffixes) == 0 {
		return "" // only the missing rule is set
	}
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	if p.exact[n] {
		return ""
	}
	for _, s := range p.suffixes {
		if len(n) > len(s) && strings.HasSuffix(n, s) {
			return ""
		}
	}
	return ReasonSNINotAllowed
}

// FieldError is a problem with one key of the options, named relative to
// them ("allow[2]"), so the config can place it at its line.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }
