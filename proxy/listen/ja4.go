package listen

import (
	"fmt"
	"regexp"
	"strings"
)

// JA4Options lists JA4 fingerprints (FoxIO's JA4, as the access log's ja4
// field writes them) the connection filter refuses or, when Allow is not
// empty, the only ones it admits. They are judged on the ClientHello, so
// they apply to TLS listeners only; a refused client's connection is
// closed without an answer.
type JA4Options struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// ja4Form is the shape of a JA4 fingerprint: t13d1516h2_8daaf6152771_e5627efa2ab1.
var ja4Form = regexp.MustCompile(`^[tqd][0-9s][0-9][di][0-9]{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)

// CheckJA4 reports whether s has the form of a JA4 fingerprint.
func CheckJA4(s string) error {
	if !ja4Form.MatchString(strings.ToLower(s)) {
		return fmt.Errorf("%q is not a JA4 fingerprint (e.g. t13d1516h2_8daaf6152771_e5627efa2ab1)", s)
	}
	return nil
}

func ja4Set(what string, in []string) (map[string]bool, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]bool, len(in))
	for i, s := range in {
		if err := CheckJA4(s); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", what, i, err)
		}
		out[strings.ToLower(s)] = true
	}
	return out, nil
}

// JudgesHello reports whether the filter has rules on the ClientHello, so
// that a listener that does not otherwise read it knows it must.
func (f *Filter) JudgesHello() bool { return f.ja4Allow != nil || f.ja4Deny != nil }

// AdmitJA4 is "" when a client with fingerprint ja4 may go on to its
// handshake, or the reason it may not.
func (f *Filter) AdmitJA4(ja4 string) string {
	if f.ja4Allow != nil && !f.ja4Allow[ja4] {
		return ReasonJA4NotAllowed
	}
	if f.ja4Deny[ja4] {
		return ReasonJA4Denied
	}
	return ""
}
