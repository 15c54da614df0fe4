package canon

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// fuzzRoutes are first-match path prefixes, the way the proxy's routes
// read them: plain string prefixes of the canonical path.
var fuzzRoutes = []string{"/admin/", "/admin", "/api/v1/", "/public/", "/~user/", "/"}

func routeOf(p string) string {
	for _, r := range fuzzRoutes {
		if strings.HasPrefix(p, r) {
			return r
		}
	}
	return ""
}

// resolve is how an origin reads a path: one round of percent-decoding
// (%2F included, as naive origins do), then dot-segments and empty segments
// resolved as path.Clean does, keeping a final "/" the way RFC 3986 §5.2.4
// and net/http's mux do. backslash makes "\" a separator too, as Windows
// origins have it.
func resolve(p string, backslash bool) (string, bool) {
	d, err := url.PathUnescape(p)
	if err != nil {
		return "", false
	}
	if backslash {
		d = strings.ReplaceAll(d, `\`, "/")
	}
	c := path.Clean(d)
	last := d[strings.LastIndexByte(d, '/')+1:]
	if c != "/" && (last == "" || last == "." || last == "..") {
		c += "/"
	}
	return c, true
}

// FuzzCanonicalPath: canonicalising twice changes nothing; a canonical path
// has no spelling left that an origin could read differently; and no
// accepted path, as an origin would resolve it (the canonical form the
// upstream receives, or the raw one), reaches another route than the one
// its canonical form matched.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{
		"/", "/admin/x", "/public/../admin/", "/public/%2e%2e/admin/", "/%61dmin/", "/public%2F..%2Fadmin/",
		`/public\..\admin/`, "/public/%5c../admin", "//admin/", "/a/./b/../../admin/", "/%C0%AF", "/%e2%82%ac",
		"/admin%00/", "/a%zz", "/api/v1/%2E/x", "/~user/..", "/%7Euser/", "/admin/.", "/admin/..",
	} {
		f.Add(s)
	}
	policies := []Policy{
		{},
		{EncodedSlash: SlashDecode, Backslash: BackslashSlash, InvalidEscape: EscapeEncode, InvalidUTF8: UTF8Keep},
		{DoubleSlash: DoubleSlashReject},
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for i := range policies {
			pol := &policies[i]
			c, err := Path(raw, pol)
			if err != nil {
				continue
			}
			again, err := Path(c, pol)
			if err != nil || again != c {
				t.Fatalf("policy %+v: Path(%q) = %q, then %q, %v", *pol, raw, c, again, err)
			}
			if strings.Contains(c, "//") || strings.Contains(c, "/./") || strings.Contains(c, "/../") ||
				strings.HasSuffix(c, "/.") || strings.HasSuffix(c, "/..") || strings.ContainsAny(c, `\?#`) {
				t.Fatalf("policy %+v: Path(%q) = %q keeps an ambiguous spelling", *pol, raw, c)
			}
			want := routeOf(c)
			for _, backslash := range []bool{false, true} {
				if r, ok := resolve(c, backslash); !ok || routeOf(r) != want {
					t.Fatalf("policy %+v: %q is %q to Gantry (route %q) but %q to an origin (route %q)", *pol, raw, c, want, r, routeOf(r))
				}
			}
			// The raw path, had it reached an origin unchanged: under the
			// default policy every origin agrees; when the policy reads
			// "\" as "/", origins that do the same agree.
			backslash := pol.Backslash == BackslashSlash
			if pol.InvalidEscape == EscapeEncode && strings.Contains(raw, "%") {
				continue // the raw path has escapes an origin would refuse or read otherwise
			}
			if r, ok := resolve(raw, backslash); ok && routeOf(r) != want {
				t.Fatalf("policy %+v: raw %q resolves to %q (route %q), canonical %q (route %q)", *pol, raw, r, routeOf(r), c, want)
			}
		}
	})
}
