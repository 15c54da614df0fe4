package proxy

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// upstreamHead fills req from the downstream request: hop-by-hop fields
// removed, forwarding fields added. Field bytes are shared with the
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

	ip := s.Downstream.clientIP()
	proto := "http"
	if s.Downstream.TLS != nil {
		proto = "https"
	}
	// Values are built in the session's scratch and added without a copy:
	// the scratch lives as long as the request.
	sc := s.scratch[:0]
	start := len(sc)
	first := true
	for _, f := range in.Header.Fields {
		if bytes.EqualFold(f.Name, nameXFF) {
			if !first {
				sc = append(sc, ", "...)
			}
			sc = append(sc, f.Value...)
			first = false
		}
	}
	if !first {
		sc = append(sc, ", "...)
	}
	sc = append(sc, ip...)
	xff := sc[start:len(sc):len(sc)]
	start = len(sc)
	sc = append(sc, "for="...)
	if strings.IndexByte(ip, ':') >= 0 {
		sc = append(sc, `"[`...)
		sc = append(sc, ip...)
		sc = append(sc, `]"`...)
	} else {
		sc = append(sc, ip...)
	}
	sc = append(sc, ";proto="...)
	sc = append(sc, proto...)
	sc = append(sc, ";host="...)
	sc = appendForwardedValue(sc, in.Authority)
	fwd := sc[start:len(sc):len(sc)]
	s.scratch = sc
	req.Header.Del("X-Forwarded-For")
	req.Header.AddBytes(nameXFF, xff)
	req.Header.Set("X-Forwarded-Proto", proto)
	req.Header.Set("X-Forwarded-Host", in.Authority)
	req.Header.AddBytes(nameForwarded, fwd)
	if s.Downstream.Proto == "HTTP/2.0" {
		req.Header.AddBytes(nameVia, via2)
	} else {
		req.Header.AddBytes(nameVia, via11)
	}
}

var (
	nameXFF       = []byte("X-Forwarded-For")
	nameForwarded = []byte("Forwarded")
	nameVia       = []byte("Via")
	via11         = []byte("1.1 gantry")
	via2          = []byte("2 gantry")
)

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
