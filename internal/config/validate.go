package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/user"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/proxy"
	"github.com/gantry-proxy/gantry/proxy/canon"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Identity is the user and group to switch to after binding.
type Identity struct {
	// UID and GID are -1 when not configured.
	UID, GID int
	// User and Group are the names as configured, for messages.
	User, Group string
}

// Set reports whether any switch is configured.
func (id Identity) Set() bool { return id.UID >= 0 || id.GID >= 0 }

// Identity returns the resolved server.user / server.group.
func (c *Config) Identity() Identity { return c.loaded.identity }

// ServerTLS returns listener i's server TLS config with its files loaded.
func (c *Config) ServerTLS(i int) *gantrytls.ServerConfig { return &c.Listeners[i].TLS.Config }

// validate applies defaults, checks every value and loads every file.
func (c *Config) validate(errs *errorList) {
	c.validateServer(errs)
	c.validateListeners(errs)
	c.validateUpstreams(errs)
	c.validateRoutes(errs)
	c.validateLogging(errs)
	c.validateMetrics(errs)
	c.validateProcess(errs)
}

func (c *Config) validateMetrics(errs *errorList) {
	addr := c.Metrics.Address
	if addr == "" {
		return
	}
	// Port 0 is allowed as for listeners: tests and demos learn the real
	// port from the "metrics on" line gantry serve prints.
	if err := checkHostPort(addr, true); err != nil {
		errs.add("metrics.address", err)
		return
	}
	norm := normalAddr(addr)
	if strings.HasSuffix(norm, ":0") {
		return
	}
	for i, l := range c.Listeners {
		if l.Addr != "" && normalAddr(l.Addr) == norm {
			errs.addf("metrics.address", "address %s is already used by listeners[%d] (line %d)", addr, i, c.Line(fmt.Sprintf("listeners[%d].address", i)))
		}
	}
}

// downstreamTimeouts are the server.timeouts keys a listener may override:
// the ones that bound a client connection. The others belong to upstream
// pools or to the process, which listeners share.
var downstreamTimeouts = map[string]bool{
	"tls_handshake":  true,
	"request_header": true,
	"request_body":   true,
	"response_write": true,
	"keepalive_idle": true,
	"h2_stream_idle": true,
}

// listenerTimeouts checks listeners[i].timeouts and returns the handshake
// timeout a listener's tls.handshake_timeout falls back to.
func (c *Config) listenerTimeouts(errs *errorList, key string, l *proxy.ListenerOptions) time.Duration {
	tv := reflect.ValueOf(&l.Timeouts).Elem()
	for i := range tv.NumField() {
		tag := yamlKey(tv.Type().Field(i))
		k := key + ".timeouts." + tag
		if !c.present(k) {
			continue
		}
		switch {
		case strings.HasPrefix(tag, "upstream_"):
			errs.addf(k, "upstream timeouts are proxy-wide: set server.timeouts.%s", tag)
			tv.Field(i).SetInt(0)
		case !downstreamTimeouts[tag]:
			errs.addf(k, "%s is proxy-wide: set server.timeouts.%s", tag, tag)
			tv.Field(i).SetInt(0)
		default:
			c.positive(errs, k, time.Duration(tv.Field(i).Int()))
		}
	}
	hs := key + ".timeouts.tls_handshake"
	if c.present(hs) && c.present(key+".tls.handshake_timeout") {
		errs.addf(hs, "both this and tls.handshake_timeout (line %d) are set; keep one", c.Line(key+".tls.handshake_timeout"))
	}
	if c.present(hs) {
		return l.Timeouts.TLSHandshake
	}
	return c.Server.Timeouts.TLSHandshake
}

func (c *Config) present(key string) bool {
	_, ok := c.lines[key]
	return ok
}

// positive checks a duration key that was written in the file: timeouts
// may not be switched off with 0, and a negative one is meaningless.
func (c *Config) positive(errs *errorList, key string, d time.Duration) {
	if c.present(key) && d <= 0 {
		errs.addf(key, "must be a positive duration (timeouts cannot be turned off), got %s", d)
	}
}

func (c *Config) validateServer(errs *errorList) {
	s := &c.Server
	tv := reflect.ValueOf(&s.Timeouts).Elem()
	dv := reflect.ValueOf(proxy.DefaultTimeouts())
	for i := range tv.NumField() {
		key := "server.timeouts." + yamlKey(tv.Type().Field(i))
		f := tv.Field(i)
		if !c.present(key) {
			f.Set(dv.Field(i))
			continue
		}
		c.positive(errs, key, time.Duration(f.Int()))
	}

	l := s.Limits
	for key, v := range map[string]int64{
		"max_header_bytes": int64(l.MaxHeaderBytes),
		"max_header_count": int64(l.MaxHeaderCount),
		"max_body_bytes":   l.MaxBodyBytes,
		"max_conns":        int64(l.MaxConns),
	} {
		if v < 0 {
			errs.addf("server.limits."+key, "must not be negative, got %d", v)
		}
	}
	if c.present("server.limits.max_header_bytes") && l.MaxHeaderBytes < 1024 {
		errs.addf("server.limits.max_header_bytes", "must be at least 1024, got %d", l.MaxHeaderBytes)
	}
	if c.present("server.limits.h2_max_concurrent_streams") && l.H2MaxConcurrentStreams == 0 {
		errs.addf("server.limits.h2_max_concurrent_streams", "must be at least 1")
	}
	if d := s.WatchFiles.Interval; c.present("server.watch_files.interval") && (d < 100*time.Millisecond || d > time.Hour) {
		errs.addf("server.watch_files.interval", "must be between 100ms and 1h, got %v", d)
	}
	c.validateFilter(errs)
	c.validateJA4Filter(errs)
	c.validateDNS(errs)
	c.validateForwarding(errs)

	for i, p := range s.Connect.Ports {
		if p < 1 || p > 65535 {
			errs.addf(fmt.Sprintf("server.connect.ports[%d]", i), "port %d is out of range 1-65535", p)
		}
	}
	if len(s.Connect.Ports) > 0 && !s.Connect.Allow {
		errs.addf("server.connect.ports", "ports are listed but connect.allow is false: CONNECT stays refused")
	}

	id, err := lookupIdentity(s.User, s.Group)
	if err != nil {
		key := "server.user"
		if !errors.Is(err, errUser) {
			key = "server.group"
		}
		errs.add(key, err)
	}
	c.loaded.identity = id

	guard := certs.KeyGuard{}
	switch s.KeyPermissions {
	case "", "refuse":
	case "warn":
		guard.Warn = true
	default:
		errs.addf("server.key_permissions", "unknown value %q (want refuse or warn)", s.KeyPermissions)
	}
	if id.UID >= 0 {
		guard.Owners = []int{id.UID}
	}
	c.loaded.keyGuard = guard
}

var errUser = errors.New("user")

// lookupIdentity resolves user and group names (or numeric ids). A user
// without a group switches to the user's primary group.
func lookupIdentity(userName, groupName string) (Identity, error) {
	id := Identity{UID: -1, GID: -1, User: userName, Group: groupName}
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			if _, numErr := strconv.Atoi(userName); numErr == nil {
				u, err = user.LookupId(userName)
			}
		}
		if err != nil {
			return id, fmt.Errorf("%w %q does not exist on this system: %v", errUser, userName, err)
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return id, fmt.Errorf("%w %q has a non-numeric uid %q", errUser, userName, u.Uid)
		}
		id.UID = uid
		if groupName == "" {
			gid, err := strconv.Atoi(u.Gid)
			if err != nil {
				return id, fmt.Errorf("%w %q has a non-numeric primary gid %q", errUser, userName, u.Gid)
			}
			id.GID = gid
		}
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			if _, numErr := strconv.Atoi(groupName); numErr == nil {
				g, err = user.LookupGroupId(groupName)
			}
		}
		if err != nil {
			return id, fmt.Errorf("group %q does not exist on this system: %v", groupName, err)
		}
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			return id, fmt.Errorf("group %q has a non-numeric gid %q", groupName, g.Gid)
		}
		id.GID = gid
	}
	return id, nil
}

// yamlKey is the key a struct field is read from.
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// protocols the proxy speaks; ALPN lists may name only these.
var knownALPN = map[string]bool{"h2": true, "http/1.1": true}

func (c *Config) validateListeners(errs *errorList) {
	if len(c.Listeners) == 0 {
		errs.addf("listeners", "at least one listener is required")
		return
	}
	names := map[string]int{}
	addrs := map[string]int{}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		key := fmt.Sprintf("listeners[%d]", i)
		if l.Addr == "" {
			errs.addf(key+".address", "is required (host:port, e.g. \"127.0.0.1:8443\" or \":443\")")
		} else if err := checkHostPort(l.Addr, true); err != nil {
			errs.add(key+".address", err)
		} else if norm := normalAddr(l.Addr); !strings.HasSuffix(norm, ":0") {
			if j, dup := addrs[norm]; dup {
				errs.addf(key+".address", "address %s is already used by listeners[%d] (line %d)", l.Addr, j, c.Line(fmt.Sprintf("listeners[%d].address", j)))
			}
			addrs[norm] = i
		}
		if l.Name == "" {
			l.Name = l.Addr
		}
		if j, dup := names[l.Name]; dup && l.Name != "" {
			errs.addf(key+".name", "name %q is already used by listeners[%d]", l.Name, j)
		}
		names[l.Name] = i
		c.validateProxyProtocol(errs, key+".proxy_protocol", &l.ProxyProtocol)
		handshake := c.listenerTimeouts(errs, key, l)
		if l.TLS == nil {
			errs.addf(key+".tls", "is required: a listener terminates TLS (backend and certificates)")
			continue
		}
		c.listenerTLS(errs, key+".tls", l.TLS, handshake)
		c.listenerHello(errs, key+".tls", l.TLS)
	}
}

func (c *Config) validateUpstreams(errs *errorList) {
	for _, name := range sortedKeys(c.Upstreams) {
		u := c.Upstreams[name]
		key := "upstreams." + name
		if u == nil {
			errs.addf(key, "is empty: addresses are required")
			continue
		}
		u.Name = name
		if len(u.Addrs) == 0 && u.SRV == "" {
			errs.addf(key+".addresses", "at least one host:port (or an srv name) is required")
		}
		if u.SRV != "" {
			if err := checkDNSName(u.SRV); err != nil {
				errs.add(key+".srv", err)
			}
		}
		for i, a := range u.Addrs {
			if err := checkHostPort(a, false); err != nil {
				errs.add(fmt.Sprintf("%s.addresses[%d]", key, i), err)
			}
		}
		switch u.Balance {
		case "", proxy.BalanceRoundRobin, proxy.BalanceLeastConn:
		default:
			errs.addf(key+".balance", "unknown balance %q (want %s or %s)", u.Balance, proxy.BalanceRoundRobin, proxy.BalanceLeastConn)
		}
		if u.Health.MaxFails < -1 {
			errs.addf(key+".health.max_fails", "must be -1 (passive checks off) or more, got %d", u.Health.MaxFails)
		}
		c.positive(errs, key+".health.eject_for", u.Health.EjectFor)
		if hc := u.Health.Check; hc != nil {
			if !strings.HasPrefix(hc.Path, "/") {
				errs.addf(key+".health.check.path", "must be an absolute path such as /healthz, got %q", hc.Path)
			}
			c.positive(errs, key+".health.check.interval", hc.Interval)
			c.positive(errs, key+".health.check.timeout", hc.Timeout)
			if hc.ExpectStatus != 0 && (hc.ExpectStatus < 100 || hc.ExpectStatus > 599) {
				errs.addf(key+".health.check.expect_status", "must be an HTTP status 100-599, got %d", hc.ExpectStatus)
			}
		}
		if u.MaxIdleConns < -1 {
			errs.addf(key+".max_idle_conns", "must be -1 (no pooling) or more, got %d", u.MaxIdleConns)
		}
		c.positive(errs, key+".idle_conn_timeout", u.IdleConnTimeout)
		if u.TLS != nil {
			c.upstreamTLS(errs, key+".tls", u.TLS)
		}
	}
}

func (c *Config) validateDNS(errs *errorList) {
	d := &c.Server.DNS
	for i, r := range d.Resolvers {
		if ap, err := netip.ParseAddrPort(r); err != nil || ap.Port() == 0 {
			errs.addf(fmt.Sprintf("server.dns.resolvers[%d]", i), "%q must be an IP address and port such as \"127.0.0.1:53\" or \"[::1]:53\" (a name would need a resolver itself)", r)
		}
	}
	for key, v := range map[string]time.Duration{
		"timeout": d.Timeout, "min_ttl": d.MinTTL, "max_ttl": d.MaxTTL, "interval": d.Interval,
	} {
		c.positive(errs, "server.dns."+key, v)
	}
	lo, hi := d.MinTTL, d.MaxTTL
	if lo == 0 {
		lo = proxy.DefaultDNSMinTTL
	}
	if hi == 0 {
		hi = proxy.DefaultDNSMaxTTL
	}
	if lo > 0 && hi > 0 && lo > hi {
		key := "server.dns.min_ttl"
		if !c.present(key) {
			key = "server.dns.max_ttl"
		}
		errs.addf(key, "min_ttl (%s) must not be above max_ttl (%s)", lo, hi)
	}
}

// checkDNSName accepts a DNS name such as "_https._tcp.api.internal".
func checkDNSName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > 253 {
		return fmt.Errorf("%q is not a DNS name", name)
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 || strings.IndexFunc(label, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return fmt.Errorf("%q is not a DNS name (letters, digits, '-' and '_' in dot-separated labels)", name)
		}
	}
	return nil
}

func (c *Config) validateRoutes(errs *errorList) {
	if len(c.Routes) == 0 {
		errs.addf("routes", "at least one route is required")
		return
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if r.Upstream == "" {
			errs.addf(key+".upstream", "is required")
		} else if _, ok := c.Upstreams[r.Upstream]; !ok {
			errs.addf(key+".upstream", "upstream %q is not defined under upstreams (defined: %s)", r.Upstream, strings.Join(sortedKeys(c.Upstreams), ", "))
		}
		if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
			errs.addf(key+".path_prefix", "must start with /, got %q", r.PathPrefix)
		} else if r.PathPrefix != "" {
			// Requests are matched in canonical form: a prefix spelled
			// otherwise would never match, or not what it says.
			var strict proxy.PathPolicy
			if cp, err := canon.Path(r.PathPrefix, &strict); err != nil {
				errs.addf(key+".path_prefix", "%q: %v", r.PathPrefix, err)
			} else if cp != r.PathPrefix {
				errs.addf(key+".path_prefix", "%q is not canonical: requests are matched as %q, write that", r.PathPrefix, cp)
			}
		}
		if err := checkRouteHost(r.Host); err != nil {
			errs.add(key+".host", err)
		}
		checkClientIdentity(errs, key+".client_identity", &r.ClientIdentity)
	}
}

func checkRouteHost(h string) error {
	if h == "" {
		return nil
	}
	if strings.ContainsAny(h, ":/ ") {
		return fmt.Errorf("host %q must be a bare host name (no scheme, port or path)", h)
	}
	if strings.Contains(strings.TrimPrefix(h, "*."), "*") {
		return fmt.Errorf("host %q: a wildcard is allowed only as a leading \"*.\"", h)
	}
	return nil
}

func (c *Config) validateLogging(errs *errorList) {
	lg := &c.Logging
	switch lg.Level {
	case "":
		lg.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		errs.addf("logging.level", "unknown level %q (want debug, info, warn or error)", lg.Level)
	}
	switch lg.Format {
	case "":
		lg.Format = "json"
	case "json", "text":
	default:
		errs.addf("logging.format", "unknown format %q (want json or text)", lg.Format)
	}
	checkHeaderNames(errs, "logging.redact_headers", lg.RedactHeaders)
	checkHeaderNames(errs, "logging.access_log_headers", lg.AccessLogHeaders)
	if len(lg.AccessLogHeaders) > 0 && !lg.AccessLogEnabled() {
		errs.addf("logging.access_log_headers", "headers are listed but access_log is false: nothing would log them")
	}
}

func checkHeaderNames(errs *errorList, key string, names []string) {
	seen := make(map[string]int, len(names))
	for i, h := range names {
		k := fmt.Sprintf("%s[%d]", key, i)
		if h == "" || strings.IndexFunc(h, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
			errs.addf(k, "%q is not a valid header name", h)
			continue
		}
		// Header names are case-insensitive, so "X-Id" and "x-id" are the
		// same entry written twice.
		if j, dup := seen[strings.ToLower(h)]; dup {
			errs.addf(k, "header %q is already listed at %s[%d]", h, key, j)
		}
		seen[strings.ToLower(h)] = i
	}
}

// AccessLogEnabled reports whether logging.access_log is on (the default).
func (l Logging) AccessLogEnabled() bool { return l.AccessLog == nil || *l.AccessLog }

func isTokenChar(r rune) bool {
	return r < 127 && r > 32 && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r)
}

// checkHostPort accepts "host:port" and ":port". Port 0 (any free port) is
// allowed only where allowZero is set: listeners, for tests and demos.
func checkHostPort(addr string, allowZero bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !allowZero) {
		return fmt.Errorf("address %q has an invalid port %q", addr, port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("address %q has an invalid host", addr)
	}
	return nil
}

// normalAddr makes equivalent spellings of a listen address compare equal.
func normalAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	if host == "0.0.0.0" || host == "::" {
		host = ""
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
