package listen

// FilterOptions is the connection filter: the first line of defence,
// applied to every listener on accept. Refused connections are closed
// without a byte read or written.
type FilterOptions struct {
	// Allow, when not empty, lists the only CIDRs (e.g. "10.0.0.0/8",
	// "2001:db8::/32") or single addresses that may connect.
	Allow []string `yaml:"allow"`
	// Deny lists CIDRs or addresses refused even when allow matches.
	Deny []string `yaml:"deny"`
	// MaxConnsPerIP bounds open connections per client address (per IPv6
	// prefix, see ipv6_prefix); zero means no limit.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// RatePerIP bounds new connections per second per client address (per
	// IPv6 prefix), as a token bucket holding rate_burst; zero means no
	// limit.
	RatePerIP float64 `yaml:"rate_per_ip"`
	// RateBurst is how many connections a client may open at once before
	// rate_per_ip applies. Zero means max(1, 2×rate_per_ip).
	RateBurst int `yaml:"rate_burst"`
	// IPv6Prefix is the prefix length by which max_conns_per_ip and
	// rate_per_ip count IPv6 clients: one host usually owns a whole /64,
	// so counting single addresses would limit nothing. Zero means 64;
	// 1 to 128 are valid (128 counts single addresses). IPv4 clients are
	// always counted per address.
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// JA4 refuses TLS clients by the fingerprint of their ClientHello,
	// read before the handshake (see JA4Options).
	JA4 JA4Options `yaml:"ja4"`
}

// ProxyProtocolOptions is the PROXY protocol (HAProxy, versions 1 and 2)
// on one listener.
type ProxyProtocolOptions struct {
	// Enabled requires every connection from a trusted load balancer to
	// start with a PROXY header, whose source address then stands for the
	// client (logs, X-Forwarded-For). A connection without a valid header
	// is closed. The connection filter still judges the socket's peer,
	// i.e. the load balancer.
	Enabled bool `yaml:"enabled"`
	// Trusted lists the CIDRs or single addresses of the load balancers
	// allowed to send the header. Connections from any other peer are
	// closed on accept, before a byte is read. Required when enabled;
	// 0.0.0.0/0 and ::/0 accept any peer.
	Trusted []string `yaml:"trusted"`
}
