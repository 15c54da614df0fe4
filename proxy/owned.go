package proxy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/listen"
)

// ownedKind is what an owned header is to the proxy.
type ownedKind uint8

const (
	notOwned ownedKind = iota
	// ownedStrip headers are removed and never set by the proxy (yet):
	// client identity, and the extra names of owned_headers.
	ownedStrip
	// The forwarding chain: a trusted proxy's copies are kept and
	// extended, anyone else's replaced.
	ownedXFF
	ownedForwarded
	ownedVia
	ownedXFProto
	ownedXFHost
	ownedXFPort
	// ownedRealIP is always replaced by the client address.
	ownedRealIP
)

// builtinOwned are the headers an origin reads as "the proxy says so",
// by their lower-case, dash-separated names.
var builtinOwned = map[string]ownedKind{
	"x-forwarded-for":   ownedXFF,
	"forwarded":         ownedForwarded,
	"via":               ownedVia,
	"x-forwarded-proto": ownedXFProto,
	"x-forwarded-host":  ownedXFHost,
	"x-forwarded-port":  ownedXFPort,
	"x-real-ip":         ownedRealIP,
	// Client identity (RFC 9440, Envoy's XFCC). The mTLS work will set
	// some of them; until then they are only removed.
	"client-cert":             ownedStrip,
	"client-cert-chain":       ownedStrip,
	"x-forwarded-client-cert": ownedStrip,
	// Other spellings of scheme and path that frameworks and IIS trust
	// from a front proxy: a client must not be able to claim HTTPS or
	// rewrite the path past the route it matched.
	"x-forwarded-ssl":    ownedStrip,
	"x-forwarded-scheme": ownedStrip,
	"x-forwarded-prefix": ownedStrip,
	"x-url-scheme":       ownedStrip,
	"front-end-https":    ownedStrip,
	"x-original-url":     ownedStrip,
	"x-rewrite-url":      ownedStrip,
}

// builtinOwnedPrefixes are owned families: nginx's and Apache's
// X-SSL-Client-Cert, -Verify, -DN..., and X-Client-Cert, -Chain...
var builtinOwnedPrefixes = []string{"x-ssl-client", "x-client-cert"}

// ownedSet is ForwardingOptions compiled.
type ownedSet struct {
	names    map[string]ownedKind
	prefixes []string
	first    [256]bool // lower-case first bytes of every owned name
	maxLen   int       // longest exact name
	trusted  []netip.Prefix
}

func newOwnedSet(o ForwardingOptions) (*ownedSet, error) {
	s := &ownedSet{names: make(map[string]ownedKind, len(builtinOwned)+len(o.OwnedHeaders))}
	for n, k := range builtinOwned {
		s.names[n] = k
	}
	s.prefixes = append(s.prefixes, builtinOwnedPrefixes...)
	for i, n := range o.OwnedHeaders {
		prefix := strings.HasSuffix(n, "*")
		n = strings.TrimSuffix(n, "*")
		if n == "" || strings.ContainsAny(n, " \t:*") {
			return nil, fmt.Errorf("proxy: forwarding.owned_headers[%d]: %q is not a header name", i, o.OwnedHeaders[i])
		}
		n = strings.ReplaceAll(strings.ToLower(n), "_", "-")
		if prefix {
			s.prefixes = append(s.prefixes, n)
		} else if _, builtin := s.names[n]; !builtin {
			s.names[n] = ownedStrip
		}
	}
	for n := range s.names {
		s.first[n[0]] = true
		s.maxLen = max(s.maxLen, len(n))
	}
	for _, p := range s.prefixes {
		s.first[p[0]] = true
	}
	var err error
	if s.trusted, err = listen.ParsePrefixes("forwarding.trusted_proxies", o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return s, nil
}

// kind says whether name is owned, reading "_" as "-" and ignoring case,
// as CGI, PHP, WSGI and many frameworks do. exact is false when the name
// was spelled otherwise than with dashes: such a copy is always dropped,
// even from a trusted proxy, since no proxy sends it.
func (s *ownedSet) kind(name []byte) (k ownedKind, exact bool) {
	if len(name) == 0 || !s.first[lower(name[0])] {
		return notOwned, false
	}
	var buf [64]byte
	norm := buf[:0]
	exact = true
	for _, c := range name {
		if c == '_' {
			c = '-'
			exact = false
		}
		norm = append(norm, lower(c))
	}
	if len(norm) <= s.maxLen {
		if k, ok := s.names[string(norm)]; ok {
			return k, exact
		}
	}
	for _, p := range s.prefixes {
		if len(norm) >= len(p) && string(norm[:len(p)]) == p {
			return ownedStrip, exact
		}
	}
	return notOwned, false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trusts reports whether the peer at ip may extend the forwarding chain.
func (s *ownedSet) trusts(ip string) bool {
	if len(s.trusted) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
