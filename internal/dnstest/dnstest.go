// Package dnstest is a small authoritative DNS server on 127.0.0.1 (UDP)
// for tests: records are set and changed while it runs, and every query
// is answered from what is set at that moment.
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// SRV is one SRV record's data.
type SRV struct {
	Target                 string
	Port, Priority, Weight uint16
}

// Server answers A, AAAA and SRV queries from its records.
type Server struct {
	// Addr is the "127.0.0.1:port" it answers on.
	Addr string

	conn    net.PacketConn
	queries atomic.Int64
	// NoAdditional leaves targets' addresses out of SRV answers, so that a
	// client has to ask for them.
	NoAdditional atomic.Bool

	mu    sync.Mutex
	ips   map[string][]netip.Addr
	srv   map[string][]SRV
	rcode map[string]dnsmessage.RCode
	ttl   uint32
}

// Start runs a server until the test ends. Every record has TTL 1s.
func Start(t testing.TB) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), conn: pc, ttl: 1,
		ips: map[string][]netip.Addr{}, srv: map[string][]SRV{}, rcode: map[string]dnsmessage.RCode{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve()
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
	})
	return s
}

// Queries is how many queries the server answered.
func (s *Server) Queries() int64 { return s.queries.Load() }

// SetIP makes name resolve to ips (A and AAAA records); none removes it
// (NXDOMAIN).
func (s *Server) SetIP(name string, ips ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var addrs []netip.Addr
	for _, ip := range ips {
		addrs = append(addrs, netip.MustParseAddr(ip))
	}
	s.ips[key(name)] = addrs
	delete(s.rcode, key(name))
}

// SetSRV sets name's SRV records.
func (s *Server) SetSRV(name string, recs ...SRV) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv[key(name)] = recs
	delete(s.rcode, key(name))
}

// Fail makes every query for name answer rcode (e.g. SERVFAIL).
func (s *Server) Fail(name string, rcode dnsmessage.RCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcode[key(name)] = rcode
}

func key(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dnsmessage.Message
		if err := q.Unpack(buf[:n]); err != nil || len(q.Questions) != 1 {
			continue
		}
		s.queries.Add(1)
		out, err := s.answer(&q).Pack()
		if err != nil {
			continue
		}
		_, _ = s.conn.WriteTo(out, from)
	}
}

func (s *Server) answer(q *dnsmessage.Message) *dnsmessage.Message {
	qq := q.Questions[0]
	name := key(qq.Name.String())
	m := &dnsmessage.Message{
		Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true, RecursionDesired: q.RecursionDesired},
		Questions: q.Questions,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rc, ok := s.rcode[name]; ok {
		m.RCode = rc
		return m
	}
	ips, hasIP := s.ips[name]
	recs, hasSRV := s.srv[name]
	if (!hasIP || len(ips) == 0) && (!hasSRV || len(recs) == 0) {
		m.RCode = dnsmessage.RCodeNameError
		return m
	}
	switch qq.Type {
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		m.Answers = s.addrRecords(qq.Name, ips, qq.Type)
	case dnsmessage.TypeSRV:
		for _, r := range recs {
			m.Answers = append(m.Answers, dnsmessage.Resource{
				Header: s.header(qq.Name, dnsmessage.TypeSRV),
				Body:   &dnsmessage.SRVResource{Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: dnsmessage.MustNewName(key(r.Target))},
			})
			if !s.NoAdditional.Load() {
				tn := dnsmessage.MustNewName(key(r.Target))
				m.Additionals = append(m.Additionals, s.addrRecords(tn, s.ips[key(r.Target)], dnsmessage.TypeA)...)
				m.Additionals = append(m.Additionals, s.addrRecords(tn, s.ips[key(r.Target)], dnsmessage.TypeAAAA)...)
			}
		}
	}
	return m
}

func (s *Server) header(name dnsmessage.Name, t dnsmessage.Type) dnsmessage.ResourceHeader {
	return dnsmessage.ResourceHeader{Name: name, Type: t, Class: dnsmessage.ClassINET, TTL: s.ttl}
}

func (s *Server) addrRecords(name dnsmessage.Name, ips []netip.Addr, t dnsmessage.Type) []dnsmessage.Resource {
	var out []dnsmessage.Resource
	for _, ip := range ips {
		switch {
		case t == dnsmessage.TypeA && ip.Is4():
			out = append(out, dnsmessage.Resource{Header: s.header(name, t), Body: &dnsmessage.AResource{A: ip.As4()}})
		case t == dnsmessage.TypeAAAA && ip.Is6():
			out = append(out, dnsmessage.Resource{Header: s.header(name, t), Body: &dnsmessage.AAAAResource{AAAA: ip.As16()}})
		}
	}
	return out
}
