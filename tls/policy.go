package tls

import (
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// Protocol versions, as on the wire.
const (
	VersionTLS12 = stdtls.VersionTLS12
	VersionTLS13 = stdtls.VersionTLS13
)

// Policy names. The policies follow Mozilla's server-side TLS guidelines.
const (
	// PolicyModern is TLS 1.3 only.
	PolicyModern = "modern"
	// PolicyIntermediate is TLS 1.3 plus TLS 1.2 restricted to ECDHE key
	// exchange with AES-GCM or ChaCha20-Poly1305. It is the default, as it is
	// for Mozilla, because some clients still lack TLS 1.3.
	PolicyIntermediate = "intermediate"
)

// Group is a key-exchange group, named as in this package's constants.
type Group string

// The key-exchange groups Gantry knows.
const (
	X25519         Group = "X25519"
	P256           Group = "P-256"
	P384           Group = "P-384"
	X25519MLKEM768 Group = "X25519MLKEM768"
)

// CurveID is the group's code point in the TLS registry.
func (g Group) CurveID() stdtls.CurveID {
	switch g {
	case X25519:
		return stdtls.X25519
	case P256:
		return stdtls.CurveP256
	case P384:
		return stdtls.CurveP384
	case X25519MLKEM768:
		return stdtls.X25519MLKEM768
	}
	return 0
}

// GroupByCurveID is the inverse of Group.CurveID; ok is false for a group
// Gantry does not know.
func GroupByCurveID(id stdtls.CurveID) (g Group, ok bool) {
	for _, g := range allGroups {
		if g.CurveID() == id {
			return g, true
		}
	}
	return "", false
}

// allGroups is every known group in Gantry's order of preference: the
// post-quantum hybrid first where a backend has it.
var allGroups = []Group{X25519MLKEM768, X25519, P256, P384}

var groupAliases = map[string]Group{
	"x25519":         X25519,
	"p-256":          P256,
	"p256":           P256,
	"secp256r1":      P256,
	"prime256v1":     P256,
	"p-384":          P384,
	"p384":           P384,
	"secp384r1":      P384,
	"x25519mlkem768": X25519MLKEM768,
}

// ParseGroup accepts a group's name in any case, including the SEC and
// OpenSSL spellings (secp256r1, prime256v1, secp384r1).
func ParseGroup(name string) (Group, error) {
	if g, ok := parseGroup(name); ok {
		return g, nil
	}
	return "", fmt.Errorf("tls: %w", unknownGroup(name))
}

func parseGroup(name string) (Group, bool) {
	g, ok := groupAliases[strings.ToLower(name)]
	return g, ok
}

// The errors below are shared by validateNames and resolvePolicy, so a name
// is refused with the same words whichever finds it first.

func unknownGroup(name string) error {
	return fmt.Errorf("unknown group %q (known: X25519MLKEM768, X25519, P-256, P-384)", name)
}

func unknownPolicy(policy string) error {
	return fieldErr("policy", "unknown policy %q (want %q or %q)", policy, PolicyModern, PolicyIntermediate)
}

func unknownSuite(i int, name string) error {
	return fieldErr(suiteField(i), "cipher suite %q is unknown or not allowed by any Gantry policy", name)
}

func suiteOutsidePolicy(i int, s Suite, policy string) error {
	return fieldErr(suiteField(i), "cipher suite %s is a TLS 1.2 suite, but policy %q is TLS 1.3 only", s.Name, policy)
}

func suiteField(i int) string { return fmt.Sprintf("cipher_suites[%d]", i) }

// Suite describes one cipher suite by its IANA code point and names.
type Suite struct {
	ID uint16
	// Name as IANA registers it, e.g. "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".
	Name string
	// OpenSSLName is the name OpenSSL and BoringSSL cipher strings use.
	OpenSSLName string
	// TLS13 marks the suites of TLS 1.3, which are negotiated separately.
	TLS13 bool
}

// suites lists every suite a Gantry policy can allow, in preference order.
// The TLS 1.2 ones are ECDHE with an AEAD only: the set Mozilla's
// intermediate profile keeps once finite-field DHE is dropped.
var suites = []Suite{
	{stdtls.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true},
	{stdtls.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true},
	{stdtls.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
	{stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", false},
}

// Suites returns every suite a policy can allow, TLS 1.3 first.
func Suites() []Suite { return append([]Suite(nil), suites...) }

// SuiteByID finds a suite Gantry knows by code point.
func SuiteByID(id uint16) (Suite, bool) {
	for _, s := range suites {
		if s.ID == id {
			return s, true
		}
	}
	return Suite{}, false
}

// SuiteByName finds a suite by its IANA name or its OpenSSL name, in any case.
func SuiteByName(name string) (Suite, bool) {
	for _, s := range suites {
		if strings.EqualFold(s.Name, name) || strings.EqualFold(s.OpenSSLName, name) {
			return s, true
		}
	}
	return Suite{}, false
}

// Params is a policy resolved against a backend's capabilities: exactly what
// the backend must configure. Backends get it from ServerConfig.Params or
// ClientConfig.Params and never interpret policy names themselves.
type Params struct {
	MinVersion, MaxVersion uint16
	// TLS12Suites are the TLS 1.2 suites in preference order; empty when
	// MinVersion is TLS 1.3.
	TLS12Suites []Suite
	// TLS13Suites are the TLS 1.3 suites in preference order.
	TLS13Suites []Suite
	// Groups in preference order, all supported by the backend.
	Groups []Group
}

// SuiteIDs returns the code points of every allowed suite, TLS 1.3 first.
func (p Params) SuiteIDs() []uint16 {
	ids := make([]uint16, 0, len(p.TLS12Suites)+len(p.TLS13Suites))
	for _, s := range p.TLS13Suites {
		ids = append(ids, s.ID)
	}
	for _, s := range p.TLS12Suites {
		ids = append(ids, s.ID)
	}
	return ids
}

// resolvePolicy turns a policy name and optional narrowing lists into Params
// for a backend with the given capabilities. Names the backend lacks are
// dropped when they come from the policy's defaults and are an error when the
// user asked for them explicitly: a backend never offers what it lacks, and
// never silently ignores what it was told.
func resolvePolicy(policy string, suiteNames, groupNames []string, caps Capabilities) (Params, error) {
	var p Params
	switch policy {
	case PolicyModern:
		p.MinVersion, p.MaxVersion = VersionTLS13, VersionTLS13
	case "", PolicyIntermediate:
		p.MinVersion, p.MaxVersion = VersionTLS12, VersionTLS13
	default:
		return Params{}, unknownPolicy(policy)
	}

	has := func(id uint16) bool {
		for _, c := range caps.CipherSuites {
			if c == id {
				return true
			}
		}
		return false
	}
	if len(suiteNames) == 0 {
		for _, s := range suites {
			if !has(s.ID) {
				continue
			}
			if s.TLS13 {
				p.TLS13Suites = append(p.TLS13Suites, s)
			} else if p.MinVersion <= VersionTLS12 {
				p.TLS12Suites = append(p.TLS12Suites, s)
			}
		}
	} else {
		for i, name := range suiteNames {
			s, ok := SuiteByName(name)
			if !ok {
				return Params{}, unknownSuite(i, name)
			}
			if !has(s.ID) {
				return Params{}, fieldErr(suiteField(i), "cipher suite %s is not supported by this backend", s.Name)
			}
			if s.TLS13 {
				p.TLS13Suites = append(p.TLS13Suites, s)
				continue
			}
			if p.MinVersion > VersionTLS12 {
				return Params{}, suiteOutsidePolicy(i, s, policy)
			}
			p.TLS12Suites = append(p.TLS12Suites, s)
		}
		if n := len(p.TLS13Suites); n > 0 && caps.FixedTLS13Suites && n != countTLS13(caps) {
			// The list as a whole is at fault, not one entry of it.
			return Params{}, fieldErr("cipher_suites", "this backend cannot narrow the TLS 1.3 cipher suites (it always offers all %d); list only TLS 1.2 suites", countTLS13(caps))
		}
		// A list naming only TLS 1.2 suites narrows TLS 1.2 and leaves
		// TLS 1.3 at its defaults, and the other way round.
		if len(p.TLS13Suites) == 0 {
			for _, s := range suites {
				if s.TLS13 && has(s.ID) {
					p.TLS13Suites = append(p.TLS13Suites, s)
				}
			}
		}
		if len(p.TLS12Suites) == 0 && p.MinVersion <= VersionTLS12 {
			for _, s := range suites {
				if !s.TLS13 && has(s.ID) {
					p.TLS12Suites = append(p.TLS12Suites, s)
				}
			}
		}
	}

	if len(groupNames) == 0 {
		for _, g := range allGroups {
			if caps.HasGroup(g) {
				p.Groups = append(p.Groups, g)
			}
		}
	} else {
		for i, name := range groupNames {
			field := fmt.Sprintf("groups[%d]", i)
			g, ok := parseGroup(name)
			if !ok {
				return Params{}, fieldErr(field, "%w", unknownGroup(name))
			}
			if !caps.HasGroup(g) {
				return Params{}, fieldErr(field, "group %s is not supported by this backend", g)
			}
			p.Groups = append(p.Groups, g)
		}
	}
	if len(p.Groups) == 0 {
		return Params{}, errors.New("tls: no key-exchange group left")
	}
	return p, nil
}

// countTLS13 counts the TLS 1.3 suites among caps.CipherSuites.
func countTLS13(caps Capabilities) int {
	n := 0
	for _, id := range caps.CipherSuites {
		if s, ok := SuiteByID(id); ok && s.TLS13 {
			n++
		}
	}
	return n
}
