package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gantry-proxy/gantry/proxy"
)

// validateFilter checks server.filter: every entry an address or a CIDR,
// limits not negative, the IPv6 counting prefix a real prefix length.
func (c *Config) validateFilter(errs *errorList) {
	f := &c.Server.Filter
	checkCIDRs(errs, "server.filter.allow", f.Allow)
	checkCIDRs(errs, "server.filter.deny", f.Deny)
	if f.MaxConnsPerIP < 0 {
		errs.addf("server.filter.max_conns_per_ip", "must not be negative, got %d", f.MaxConnsPerIP)
	}
	if f.RatePerIP < 0 {
		errs.addf("server.filter.rate_per_ip", "must not be negative, got %g", f.RatePerIP)
	}
	if f.RateBurst < 0 {
		errs.addf("server.filter.rate_burst", "must not be negative, got %d", f.RateBurst)
	}
	if c.present("server.filter.rate_burst") && f.RatePerIP == 0 {
		errs.addf("server.filter.rate_burst", "a burst is set but rate_per_ip is not: nothing would use it")
	}
	if c.present("server.filter.ipv6_prefix") && (f.IPv6Prefix < 1 || f.IPv6Prefix > 128) {
		errs.addf("server.filter.ipv6_prefix", "must be a prefix length 1-128, got %d (64 counts one host's /64 as one client)", f.IPv6Prefix)
	}
}

// validateForwarding checks server.forwarding: trusted proxies are
// addresses or CIDRs, owned headers are header names (a trailing "*" makes
// a prefix).
func (c *Config) validateForwarding(errs *errorList) {
	f := &c.Server.Forwarding
	checkCIDRs(errs, "server.forwarding.trusted_proxies", f.TrustedProxies)
	names := make([]string, len(f.OwnedHeaders))
	for i, n := range f.OwnedHeaders {
		names[i] = strings.TrimSuffix(n, "*")
	}
	checkHeaderNames(errs, "server.forwarding.owned_headers", names)
}

// validateProxyProtocol checks a listener's proxy_protocol: it is trusted
// only from the load balancers listed, and a list with the switch off is
// a mistake worth saying.
func (c *Config) validateProxyProtocol(errs *errorList, key string, p *proxy.ProxyProtocolOptions) {
	checkCIDRs(errs, key+".trusted", p.Trusted)
	switch {
	case p.Enabled && len(p.Trusted) == 0:
		errs.addf(key+".trusted", "enabled needs the load balancers' addresses or CIDRs (0.0.0.0/0 and ::/0 trust any peer)")
	case !p.Enabled && len(p.Trusted) > 0:
		errs.addf(key+".enabled", "trusted sources are listed but enabled is false: no PROXY header would be read")
	}
}

// checkCIDRs accepts single addresses and CIDRs, as the connection filter
// does, and places each bad entry at its own key.
func checkCIDRs(errs *errorList, key string, list []string) {
	for i, s := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !strings.Contains(s, "/") {
			if _, err := netip.ParseAddr(s); err != nil {
				errs.addf(k, "%q is neither an IP address nor a CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)", s)
			}
			continue
		}
		if _, err := netip.ParsePrefix(s); err != nil {
			errs.addf(k, "%q is not a valid CIDR: %v", s, err)
		}
	}
}
