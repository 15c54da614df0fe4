package proxy

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// upstreamHead fills req from the downstream request: hop-by-hop fields
// removed, the owned forwarding fields computed at intake added. Field bytes are shared with the
// downstream request, which outlives the upstream exchange.
func (p *Proxy) upstreamHead(s *Session, req *RequestHead) {
	in := &s.Request
	req.Method, req.Scheme, req.Authority, req.Path, req.ContentLength = in.Method, in.Scheme, in.Authority, in.Path, in.ContentLength
	req.Header.Reset()
	for _, f := range in.Header.Fields {
		req.Header.AddBytes(f.Name, f.Value)
	}
	upgrade := s.wantsUpgrade()
	// "TE: trailers" is hop-by-hop but means the same on every hop; gRPC
	// servers insist on it.
	teTrailers := headerHasToken(&in.Header, "TE", "trailers")
	h1.RemoveHopByHop(&req.Header)
	if teTrailers {
		req.Header.Add("TE", "trailers")
	}
	req.Header.Del("Host")
	req.Header.Del("Content-Length")
	if upgrade {
		req.Header.Add("Connection", "Upgrade")
		req.Header.Add("Upgrade", "websocket")
	}
	switch {
	case in.ContentLength > 0:
		req.Header.Add("Content-Length", strconv.FormatInt(in.ContentLength, 10))
	case in.ContentLength == 0 && (in.Method == http.MethodPost || in.Method == http.MethodPut || in.Method == http.MethodPatch):
		// Servers may refuse a body-carrying method without a length (411).
		req.Header.Add("Content-Length", "0")
	}

	// Owned headers a RequestFilter hook added are dropped like a
	// client's: the proxy's own values go last, after hop-by-hop removal,
	// so that no "Connection: X-Real-IP" can take them out.
	req.Header.Fields = slicesDeleteOwned(p.owned, req.Header.Fields)
	s.addForwarding(&req.Header)
	s.addIdentity(&req.Header)
}

// slicesDeleteOwned removes the owned fields from fields, in place.
func slicesDeleteOwned(o *ownedSet, fields []h1.Field) []h1.Field {
	out := fields[:0]
	for _, f := range fields {
		if k, _ := o.kind(f.Name); k == notOwned {
			out = append(out, f)
		}
	}
	clear(fields[len(out):])
	return out
}

// appendForwardedValue appends v as an RFC 7239 value: a token when it is
// one, a quoted string otherwise.
func appendForwardedValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return strconv.AppendQuote(dst, v)
		}
	}
	return append(dst, v...)
}

// wantsUpgrade reports a WebSocket upgrade request on HTTP/1.1.
func (s *Session) wantsUpgrade() bool {
	return s.Downstream.Proto == "HTTP/1.1" && s.Request.Method == http.MethodGet &&
		headerHasToken(&s.Request.Header, "Connection", "upgrade") &&
		headerHasToken(&s.Request.Header, "Upgrade", "websocket")
}
