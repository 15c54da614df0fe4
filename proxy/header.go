package proxy

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// Header is the ordered field list of a request or response, the HTTP/1.1
// codec's own type: fields from an HTTP/1.1 peer are used where the codec
// parsed them, without a copy, and fields from HTTP/2 are copied in once.
// Names compare case-insensitively; values are bytes, so hooks write
// string(h.Get("X-Token")).
type Header = h1.Header

// headerFromHTTP appends every field of src to dst.
func headerFromHTTP(dst *Header, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// headerToHTTP adds every field of src to dst, skipping names HTTP/2 forbids
// (connection-specific ones, already removed as hop-by-hop, and Host).
func headerToHTTP(dst http.Header, src *Header) {
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

// headerValues returns every value of name.
func headerValues(h *Header, name string) []string {
	var out []string
	for _, f := range h.Fields {
		if strings.EqualFold(string(f.Name), name) {
			out = append(out, string(f.Value))
		}
	}
	return out
}

// headerHasToken reports whether a comma-separated list field (Connection,
// Upgrade) carries token, case-insensitively.
func headerHasToken(h *Header, name, token string) bool {
	for _, f := range h.Fields {
		if !bytes.EqualFold(f.Name, []byte(name)) {
			continue
		}
		for v := f.Value; len(v) > 0; {
			var item []byte
			item, v, _ = bytes.Cut(v, []byte(","))
			if bytes.EqualFold(bytes.TrimSpace(item), []byte(token)) {
				return true
			}
		}
	}
	return false
}

// cloneHeader copies h with its own storage, so it survives the reader
// buffer it may point into.
func cloneHeader(h *Header) Header {
	var out Header
	for _, f := range h.Fields {
		out.Add(string(f.Name), string(f.Value))
	}
	return out
}
