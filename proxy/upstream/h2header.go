package upstream

import (
	"net/http"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// x/net's HTTP/2 client speaks net/http's header maps; the
// proxy's heads are h1.Header field lists. These convert between the two.

// headerFromHTTP appends every field of src to dst.
func headerFromHTTP(dst *h1.Header, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// headerToHTTP adds every field of src to dst, skipping names HTTP/2 forbids
// (connection-specific ones, already removed as hop-by-hop, and Host).
func headerToHTTP(dst http.Header, src *h1.Header) {
	for _, f := range src.Fields {
		name, ok := commonNames[string(f.Name)]
		if !ok {
			name = http.CanonicalHeaderKey(string(f.Name))
		}
		if name == "Host" {
			continue
		}
		dst[name] = append(dst[name], string(f.Value))
	}
}

// commonNames maps the usual spellings of frequent response fields to their
// canonical form, so converting them allocates no name (a lookup keyed by
// string(bytes) does not copy): headerToHTTP runs for every HTTP/2 response.
var commonNames = func() map[string]string {
	m := make(map[string]string)
	for _, n := range []string{
		"Accept-Ranges", "Age", "Cache-Control", "Content-Encoding", "Content-Language",
		"Content-Length", "Content-Type", "Date", "Etag", "Expires", "Last-Modified",
		"Location", "Server", "Set-Cookie", "Strict-Transport-Security", "Vary", "Via",
		"X-Content-Type-Options", "X-Frame-Options",
	} {
		m[n] = n
		m[strings.ToLower(n)] = n
	}
	m["ETag"] = "Etag"
	return m
}()
