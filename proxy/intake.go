package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/canon"
)

// intake is the first thing done to every request head, on HTTP/1.1 and
// HTTP/2 alike and before any hook: the headers only the proxy may set are
// taken out (and the values it will set computed), and the path is made
// canonical, so that hooks, the router, the logs and the upstream all see
// the one path that was matched.
func (p *Proxy) intake(s *Session) error {
	if s.intakeErr != nil {
		return s.intakeErr
	}
	p.takeOwnedHeaders(s)
	r := &s.Request
	if r.Method == http.MethodConnect || r.Path == "*" {
		return nil
	}
	pol := &s.paths
	cp, err := canon.Target(r.Path, pol)
	if err != nil {
		return &StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("request path: %w", err)}
	}
	r.Path = cp
	return nil
}

// forwardValues are the owned headers the upstream request carries, built
// at intake in the session's scratch.
type forwardValues struct {
	xff, forwarded, via, proto, host, port, realIP []byte
}

// takeOwnedHeaders removes every owned header from the request and
// computes what the proxy sends instead. Only a trusted peer's copies, in
// their proper spelling, survive, as the start of the chain it extends.
func (p *Proxy) takeOwnedHeaders(s *Session) {
	in := &s.Request
	ip := s.Downstream.clientIP()
	trusted := p.owned.trusts(ip)
	sc := s.scratch[:0]
	var xff, fwd, via, proto, host, port []byte
	var fields = in.Header.Fields[:0]
	for _, f := range in.Header.Fields {
		k, exact := p.owned.kind(f.Name)
		if k == notOwned {
			fields = append(fields, f)
			continue
		}
		if !trusted || !exact {
			continue
		}
		switch k {
		case ownedXFF:
			xff = appendList(xff, f.Value)
		case ownedForwarded:
			fwd = appendList(fwd, f.Value)
		case ownedVia:
			via = appendList(via, f.Value)
		case ownedXFProto:
			proto = firstValue(proto, f.Value)
		case ownedXFHost:
			host = firstValue(host, f.Value)
		case ownedXFPort:
			port = firstValue(port, f.Value)
		}
	}
	in.Header.Fields = fields

	scheme := "http"
	if s.Downstream.TLS != nil {
		scheme = "https"
	}
	var v forwardValues
	start := len(sc)
	if len(xff) > 0 {
		sc = append(sc, xff...)
		sc = append(sc, ", "...)
	}
	sc = append(sc, ip...)
	v.xff = sc[start:len(sc):len(sc)]

	start = len(sc)
	if len(fwd) > 0 {
		sc = append(sc, fwd...)
		sc = append(sc, ", "...)
	}
	sc = append(sc, "for="...)
	if strings.IndexByte(ip, ':') >= 0 {
		sc = append(sc, `"[`...)
		sc = append(sc, ip...)
		sc = append(sc, `]"`...)
	} else {
		sc = append(sc, ip...)
	}
	sc = append(sc, ";proto="...)
	sc = append(sc, scheme...)
	sc = append(sc, ";host="...)
	sc = appendForwardedValue(sc, in.Authority)
	v.forwarded = sc[start:len(sc):len(sc)]

	start = len(sc)
	if len(via) > 0 {
		sc = append(sc, via...)
		sc = append(sc, ", "...)
	}
	if s.Downstream.Proto == "HTTP/2.0" {
		sc = append(sc, via2...)
	} else {
		sc = append(sc, via11...)
	}
	v.via = sc[start:len(sc):len(sc)]

	v.proto = proto
	if v.proto == nil {
		start = len(sc)
		sc = append(sc, scheme...)
		v.proto = sc[start:len(sc):len(sc)]
	}
	v.host = host
	if v.host == nil {
		start = len(sc)
		sc = append(sc, in.Authority...)
		v.host = sc[start:len(sc):len(sc)]
	}
	v.port = port
	if v.port == nil && s.Downstream.localPort != "" {
		start = len(sc)
		sc = append(sc, s.Downstream.localPort...)
		v.port = sc[start:len(sc):len(sc)]
	}
	v.realIP = v.xff[len(v.xff)-len(ip):]
	if trusted {
		v.realIP = p.owned.realClient(v.xff)
	}
	s.scratch = sc
	s.fwd = v
}

// realClient walks a forwarding chain from the right (the entries written
// by the proxies nearest to Gantry) past the trusted proxies: the first
// address that is not one is the client they saw. Entries further left
// are whatever the client wrote and are never reached. When every entry is
// trusted, the left-most is the client.
func (s *ownedSet) realClient(chain []byte) []byte {
	rest := chain
	var item []byte
	for len(rest) > 0 {
		i := bytes.LastIndexByte(rest, ',')
		item, rest = bytes.TrimSpace(rest[i+1:]), rest[:max(i, 0)]
		a, err := netip.ParseAddr(string(item))
		if err != nil || !s.trustsAddr(a) {
			return item
		}
		if i < 0 {
			break
		}
	}
	return item
}

func (s *ownedSet) trustsAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addForwarding adds the owned headers to an upstream request.
func (s *Session) addForwarding(h *Header) {
	v := &s.fwd
	h.AddBytes(nameXFF, v.xff)
	h.AddBytes(nameXFProto, v.proto)
	h.AddBytes(nameXFHost, v.host)
	if v.port != nil {
		h.AddBytes(nameXFPort, v.port)
	}
	h.AddBytes(nameForwarded, v.forwarded)
	h.AddBytes(nameRealIP, v.realIP)
	h.AddBytes(nameVia, v.via)
}

// ClientIP is the client's address as the proxy tells the upstream in
// X-Real-IP: the peer (or PROXY-protocol source), or, behind trusted
// proxies, the address the first of them saw. Valid once the request
// reached the hooks.
func (s *Session) ClientIP() string {
	if s.fwd.realIP == nil {
		return s.Downstream.clientIP()
	}
	return string(s.fwd.realIP)
}

func appendList(dst, v []byte) []byte {
	if len(dst) > 0 {
		dst = append(dst, ", "...)
	}
	return append(dst, v...)
}

func firstValue(cur, v []byte) []byte {
	if cur != nil {
		return cur
	}
	return v
}

var (
	nameXFF       = []byte("X-Forwarded-For")
	nameXFProto   = []byte("X-Forwarded-Proto")
	nameXFHost    = []byte("X-Forwarded-Host")
	nameXFPort    = []byte("X-Forwarded-Port")
	nameForwarded = []byte("Forwarded")
	nameRealIP    = []byte("X-Real-IP")
	nameVia       = []byte("Via")
	via11         = []byte("1.1 gantry")
	via2          = []byte("2 gantry")
)
