package proxy

import (
	"bytes"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// Header is the ordered field list of a request or response, the HTTP/1.1
// codec's own type: fields from an HTTP/1.1 peer are used where the codec
// parsed them, without a copy, and fields from HTTP/2 are copied in once.
// Names compare case-insensitively; values are bytes, so hooks write
// string(h.Get("X-Token")).
type Header = h1.Header

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
