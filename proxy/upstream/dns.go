package upstream

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSOptions is how upstream server names are resolved: in the
// background, never on a request's path.
type DNSOptions struct {
	// Resolvers are "ip:port" of DNS servers, tried in order for each
	// query (UDP, TCP when the answer is truncated). Their answers' TTLs
	// decide when a name is resolved again. Empty means the system
	// resolver (/etc/hosts, /etc/resolv.conf and its search domains), which
	// does not tell TTLs: names are then resolved every Interval.
	Resolvers []string `yaml:"resolvers"`
	// Timeout bounds one query to one resolver. Zero means 2s.
	Timeout time.Duration `yaml:"timeout"`
	// MinTTL and MaxTTL bound the TTL an answer is kept for. Zero means 1s
	// and 5m.
	MinTTL time.Duration `yaml:"min_ttl"`
	MaxTTL time.Duration `yaml:"max_ttl"`
	// Interval, when set, resolves every Interval whatever the TTLs say.
	// Zero means at the TTL with Resolvers, every 5s without.
	Interval time.Duration `yaml:"interval"`
}

// Defaults of DNSOptions.
const (
	DefaultDNSTimeout        = 2 * time.Second
	DefaultDNSMinTTL         = time.Second
	DefaultDNSMaxTTL         = 5 * time.Minute
	DefaultDNSSystemInterval = 5 * time.Second
	// dnsRetryMax caps the backoff after failed or empty answers.
	dnsRetryMax = 30 * time.Second
	// maxSRVTargets bounds the servers one SRV answer may add.
	maxSRVTargets = 64
)

// Validate reports a value New cannot default.
func (o *DNSOptions) Validate() error {
	for _, r := range o.Resolvers {
		ap, err := netip.ParseAddrPort(r)
		if err != nil || ap.Port() == 0 {
			return fmt.Errorf("dns resolver %q is not ip:port", r)
		}
	}
	if o.Timeout < 0 || o.MinTTL < 0 || o.MaxTTL < 0 || o.Interval < 0 {
		return errors.New("dns options have a negative duration")
	}
	if o.MinTTL != 0 && o.MaxTTL != 0 && o.MinTTL > o.MaxTTL {
		return fmt.Errorf("dns min_ttl %s is above max_ttl %s", o.MinTTL, o.MaxTTL)
	}
	return nil
}

func (o DNSOptions) withDefaults() DNSOptions {
	if o.Timeout == 0 {
		o.Timeout = DefaultDNSTimeout
	}
	if o.MinTTL == 0 {
		o.MinTTL = DefaultDNSMinTTL
		if o.MaxTTL > 0 {
			o.MinTTL = min(o.MinTTL, o.MaxTTL)
		}
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = max(DefaultDNSMaxTTL, o.MinTTL)
	}
	if o.Interval == 0 && len(o.Resolvers) == 0 {
		o.Interval = DefaultDNSSystemInterval
	}
	return o
}

// srvTarget is one record of an SRV answer, with the addresses the answer
// gave for its target, if any.
type srvTarget struct {
	host             string
	port             uint16
	priority, weight uint16
	addrs            []netip.Addr
}

// resolver looks names up. ttl is the lowest TTL of the records used, or
// -1 when the resolver cannot tell. An answer with no records is not an
// error: it is an empty result.
type resolver interface {
	lookupIP(ctx context.Context, host string) (ips []netip.Addr, ttl time.Duration, err error)
	lookupSRV(ctx context.Context, name string) (targets []srvTarget, ttl time.Duration, err error)
}

// systemResolver is net.Resolver: no TTLs.
type systemResolver struct{ r *net.Resolver }

func (s systemResolver) lookupIP(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	ips, err := s.r.LookupNetIP(ctx, "ip", host)
	if notFound(err) {
		return nil, -1, nil
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
	}
	return ips, -1, err
}

func (s systemResolver) lookupSRV(ctx context.Context, name string) ([]srvTarget, time.Duration, error) {
	_, recs, err := s.r.LookupSRV(ctx, "", "", name)
	if notFound(err) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, -1, err
	}
	out := make([]srvTarget, 0, len(recs))
	for _, r := range recs {
		out = append(out, srvTarget{host: strings.TrimSuffix(r.Target, "."), port: r.Port, priority: r.Priority, weight: r.Weight})
	}
	return out, -1, nil
}

func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// dnsClient is a stub resolver asking the configured servers directly, so
// that the answers' TTLs are known.
type dnsClient struct {
	servers []string
	timeout time.Duration
}

// errRcode is an answer that is neither records nor "no such name".
type errRcode struct{ rcode dnsmessage.RCode }

func (e errRcode) Error() string { return "DNS answer " + e.rcode.String() }

func (c *dnsClient) lookupIP(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	type result struct {
		ips []netip.Addr
		ttl time.Duration
		err error
	}
	ch := make(chan result, 2)
	for _, qt := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		go func() {
			m, err := c.query(ctx, host, qt)
			if err != nil {
				ch <- result{err: err}
				return
			}
			ips, ttl := addrsOf(m, host)
			ch <- result{ips: ips, ttl: ttl}
		}()
	}
	var ips []netip.Addr
	ttl := time.Duration(-1)
	var errs []error
	for range 2 {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		ips = append(ips, r.ips...)
		ttl = minTTL(ttl, r.ttl)
	}
	if len(errs) > 0 {
		return nil, -1, errors.Join(errs...)
	}
	slices.SortFunc(ips, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(ips), ttl, nil
}

func (c *dnsClient) lookupSRV(ctx context.Context, name string) ([]srvTarget, time.Duration, error) {
	m, err := c.query(ctx, name, dnsmessage.TypeSRV)
	if err != nil {
		return nil, -1, err
	}
	owners := chain(m, name)
	ttl := time.Duration(-1)
	var out []srvTarget
	for _, rr := range m.Answers {
		srv, ok := rr.Body.(*dnsmessage.SRVResource)
		if !ok || !owners[canonical(rr.Header.Name.String())] {
			continue
		}
		ttl = minTTL(ttl, ttlOf(rr))
		host := strings.TrimSuffix(srv.Target.String(), ".")
		if host == "" {
			continue // "." says the service is not available here
		}
		t := srvTarget{host: host, port: srv.Port, priority: srv.Priority, weight: srv.Weight}
		// Addresses in the additional section spare a query; they count
		// only for the target itself.
		for _, ad := range m.Additionals {
			if canonical(ad.Header.Name.String()) != canonical(host) {
				continue
			}
			if ip, ok := ipOf(ad); ok {
				t.addrs = append(t.addrs, ip)
				ttl = minTTL(ttl, ttlOf(ad))
			}
		}
		out = append(out, t)
	}
	return out, ttl, nil
}

// query asks each server in turn, returning the first answer that is
// records or "no such name" (then with no answers).
func (c *dnsClient) query(ctx context.Context, name string, qt dnsmessage.Type) (*dnsmessage.Message, error) {
	fqdn := canonical(name)
	qname, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, fmt.Errorf("DNS name %q: %w", name, err)
	}
	var errs []error
	for _, srv := range c.servers {
		m, err := c.exchange(ctx, srv, qname, qt)
		if err == nil {
			switch m.RCode {
			case dnsmessage.RCodeSuccess:
				return m, nil
			case dnsmessage.RCodeNameError:
				m.Answers, m.Additionals = nil, nil
				return m, nil
			}
			err = errRcode{m.RCode}
		}
		errs = append(errs, fmt.Errorf("%s %s @%s: %w", qt, fqdn, srv, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// exchange sends one query to srv over UDP, and again over TCP when the
// answer came truncated, within the client's timeout.
func (c *dnsClient) exchange(ctx context.Context, srv string, qname dnsmessage.Name, qt dnsmessage.Type) (*dnsmessage.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// An unpredictable ID is half of what keeps an off-path attacker
	// from answering first (the source port is the other half).
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("dns: query id: %w", err)
	}
	id := binary.BigEndian.Uint16(idb[:])
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: qname, Type: qt, Class: dnsmessage.ClassINET}},
	}
	packet, err := q.Pack()
	if err != nil {
		return nil, err
	}
	m, err := roundTrip(ctx, "udp", srv, packet, q.Questions[0])
	if err == nil && m.Truncated {
		m, err = roundTrip(ctx, "tcp", srv, packet, q.Questions[0])
	}
	return m, err
}

func roundTrip(ctx context.Context, network, srv string, packet []byte, q dnsmessage.Question) (*dnsmessage.Message, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, srv)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	id := binary.BigEndian.Uint16(packet)
	if network == "tcp" {
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(packet)))
		if _, err := conn.Write(append(msg, packet...)); err != nil {
			return nil, err
		}
		var n [2]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return nil, err
		}
		buf := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, err
		}
		m, err := parseAnswer(buf, id, q)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	if _, err := conn.Write(packet); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for {
		// The socket is connected, so only the server's datagrams arrive;
		// one that does not answer this question (a late answer to an
		// earlier one, or a forgery) is skipped.
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if m, err := parseAnswer(buf[:n], id, q); err == nil {
			return m, nil
		}
	}
}

func parseAnswer(b []byte, id uint16, q dnsmessage.Question) (*dnsmessage.Message, error) {
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		return nil, err
	}
	if m.ID != id || !m.Response || len(m.Questions) != 1 ||
		m.Questions[0].Type != q.Type || m.Questions[0].Class != q.Class ||
		canonical(m.Questions[0].Name.String()) != canonical(q.Name.String()) {
		return nil, errors.New("DNS answer to another question")
	}
	return &m, nil
}

// chain is name and the names its CNAME records in the answer lead to:
// the owners whose records answer for name.
func chain(m *dnsmessage.Message, name string) map[string]bool {
	owners := map[string]bool{canonical(name): true}
	for range 8 {
		grew := false
		for _, rr := range m.Answers {
			cn, ok := rr.Body.(*dnsmessage.CNAMEResource)
			if !ok || !owners[canonical(rr.Header.Name.String())] {
				continue
			}
			if t := canonical(cn.CNAME.String()); !owners[t] {
				owners[t] = true
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	return owners
}

// addrsOf are the A and AAAA records of m that answer for host, with the
// lowest TTL among them and the CNAMEs on the way.
func addrsOf(m *dnsmessage.Message, host string) ([]netip.Addr, time.Duration) {
	owners := chain(m, host)
	ttl := time.Duration(-1)
	var ips []netip.Addr
	for _, rr := range m.Answers {
		if !owners[canonical(rr.Header.Name.String())] {
			continue
		}
		if _, ok := rr.Body.(*dnsmessage.CNAMEResource); ok {
			ttl = minTTL(ttl, ttlOf(rr))
			continue
		}
		if ip, ok := ipOf(rr); ok {
			ips = append(ips, ip)
			ttl = minTTL(ttl, ttlOf(rr))
		}
	}
	return ips, ttl
}

func ipOf(rr dnsmessage.Resource) (netip.Addr, bool) {
	switch b := rr.Body.(type) {
	case *dnsmessage.AResource:
		return netip.AddrFrom4(b.A), true
	case *dnsmessage.AAAAResource:
		return netip.AddrFrom16(b.AAAA).Unmap(), true
	}
	return netip.Addr{}, false
}

func ttlOf(rr dnsmessage.Resource) time.Duration {
	return time.Duration(rr.Header.TTL) * time.Second
}

// minTTL is the lower of two TTLs, -1 standing for "unknown".
func minTTL(a, b time.Duration) time.Duration {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// canonical is name lower-cased and fully qualified.
func canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// timedResolver bounds each lookup of r by timeout.
type timedResolver struct {
	r       resolver
	timeout time.Duration
}

func (t timedResolver) lookupIP(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.r.lookupIP(ctx, host)
}

func (t timedResolver) lookupSRV(ctx context.Context, name string) ([]srvTarget, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.r.lookupSRV(ctx, name)
}
