package proxy

import (
	"io"
	"log/slog"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/canon"
	"github.com/gantry-proxy/gantry/proxy/listen"
	"github.com/gantry-proxy/gantry/proxy/upstream"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Options is everything New needs: plain data, filled by the config package
// from YAML or by a Go program embedding the proxy. Zero values mean the
// documented defaults; every timeout is finite whatever is left zero.
type Options struct {
	// Listeners are the downstream sockets. At least one is required unless
	// the caller passes its own net.Listeners to Serve.
	Listeners []ListenerOptions `yaml:"listeners"`
	// Upstreams are the origin groups routes point at, by name. The map key
	// is the group's name; UpstreamGroupOptions.Name, when set, must match.
	Upstreams map[string]*UpstreamGroupOptions `yaml:"upstreams"`
	// Routes are tried in order; the first match picks the upstream group.
	// They are ignored when Hooks.UpstreamPeer is set.
	Routes []RouteOptions `yaml:"routes"`

	// Timeouts apply to every listener and upstream unless a listener
	// overrides them.
	Timeouts Timeouts `yaml:"timeouts"`
	// Limits bound what one client may send.
	Limits Limits `yaml:"limits"`
	// Connect is the policy for the CONNECT method: refused (405) by default.
	Connect ConnectOptions `yaml:"connect"`
	// Filter accepts or refuses connections by remote address alone,
	// before any TLS byte is read.
	Filter ConnFilterOptions `yaml:"filter"`
	// DNS is how upstream host names and SRV records are resolved, in the
	// background: the system resolver every 5s by default.
	DNS DNSOptions `yaml:"dns"`
	// Forwarding is the set of headers only the proxy may set (forwarding
	// chain, client address, client identity) and who may extend the
	// chain.
	Forwarding ForwardingOptions `yaml:"forwarding"`

	// AccessLog writes one record per request. Nothing is written when both
	// Logger and Writer are nil.
	AccessLog AccessLogOptions `yaml:"-"`
	// Logger receives operational messages (accept errors, handshake
	// failures, upstream errors). Nil discards them.
	Logger *slog.Logger `yaml:"-"`
	// Metrics, when set, is told about connections, handshakes, requests and
	// upstream errors. Nil means no metrics.
	Metrics Metrics `yaml:"-"`

	// Hooks let a Go program change what the proxy does at each phase of a
	// request. Nil members keep the default behaviour.
	Hooks Hooks `yaml:"-"`
}

// ListenerOptions is one downstream socket.
type ListenerOptions struct {
	// Name identifies the listener in logs and metrics; defaults to the
	// address.
	Name string `yaml:"name"`
	// Addr is the TCP address to bind, e.g. "127.0.0.1:8443" or ":443".
	Addr string `yaml:"address"`
	// TLS terminates TLS on this listener. Without it the listener serves
	// plaintext HTTP/1.1 only (for use behind a TLS-terminating load
	// balancer, and tests).
	TLS *ListenerTLS `yaml:"tls"`
	// Timeouts overrides the proxy-wide timeouts for connections accepted
	// here; unset keys inherit the proxy-wide value. Only the downstream
	// ones apply per listener (tls_handshake, request_header, request_body,
	// response_write, keepalive_idle, h2_stream_idle); upstream timeouts and
	// shutdown_grace are proxy-wide.
	Timeouts Timeouts `yaml:"timeouts"`
	// ProxyProtocol reads the PROXY protocol header a load balancer in
	// front of the listener sends. Off by default.
	ProxyProtocol ProxyProtocolOptions `yaml:"proxy_protocol"`
	// ReusePort sets SO_REUSEPORT on the socket, so that several Gantry
	// processes can bind the same address and the kernel spreads new
	// connections over them. Off by default: with it, a second process
	// started by mistake shares the port instead of failing to bind.
	ReusePort bool `yaml:"reuse_port"`
	// Paths decides how the ambiguous spellings of a request path are
	// treated before it is routed; the zero value refuses all of them
	// except doubled slashes, which are merged.
	Paths PathPolicy `yaml:"paths"`
}

// ListenerTLS selects the TLS backend and configuration of a listener.
type ListenerTLS struct {
	// Backend is the registry name of the TLS backend: "gostd" (the
	// default when empty), "openssl" or "boringssl". A backend that is not
	// compiled into this binary is an error that names the build tag.
	Backend string `yaml:"backend"`
	// Config is compiled once by the backend. When its ALPN list is empty
	// it defaults to ["h2", "http/1.1"]; a zero handshake timeout takes
	// the listener's tls_handshake.
	Config gantrytls.ServerConfig `yaml:",inline"`
	// Files name the certificates, client CAs and ticket keys the server is
	// compiled from; when they name certificates, the listener's server is
	// a certs.Server, so the files can be reloaded without a restart.
	// Empty, Config's own certificates are served as they are.
	Files certs.ServerFiles `yaml:",inline"`
	// ClientIdentity says which verified client certificates may connect
	// (Allow) and which identity headers the upstream gets (Forward). It
	// needs a client_auth mode that verifies (verify-if-given or
	// require-and-verify). A client whose certificate the rules refuse has
	// its connection closed right after the handshake, before any request
	// is read.
	ClientIdentity mtls.Options `yaml:"client_identity"`
	// SNI is the listener's server name allow-list, judged on the
	// ClientHello Gantry reads before the backend's handshake.
	SNI SNIOptions `yaml:"sni"`
	// InspectHello (inspect_hello, default true) has Gantry read and
	// parse the ClientHello itself before the backend's handshake, for
	// the access log's ja4 field, hooks (DownstreamInfo.JA4), the sni
	// allow-list and the filter's ja4 rules. False leaves the hello to
	// the backend alone; sni and filter.ja4 then cannot apply.
	InspectHello *bool `yaml:"inspect_hello"`
}

// Option types that live with the code they configure, under the names the
// proxy's API has always had.
type (
	// UpstreamGroupOptions is a set of interchangeable origin servers.
	UpstreamGroupOptions = upstream.GroupOptions
	// UpstreamTLS selects the TLS backend and configuration for an
	// upstream group.
	UpstreamTLS = upstream.TLS
	// HealthOptions is an upstream group's health checking.
	HealthOptions = upstream.HealthOptions
	// HealthCheckOptions is an active health check of an upstream group.
	HealthCheckOptions = upstream.HealthCheckOptions
	// DNSOptions is how upstream server names are resolved.
	DNSOptions = upstream.DNSOptions
	// ConnFilterOptions is the connection filter applied on accept.
	ConnFilterOptions = listen.FilterOptions
	// ProxyProtocolOptions is the PROXY protocol on one listener.
	ProxyProtocolOptions = listen.ProxyProtocolOptions
	// PathPolicy is how a listener treats ambiguous request paths.
	PathPolicy = canon.Policy
	// SNIOptions is a listener's server name allow-list.
	SNIOptions = listen.SNIOptions
	// JA4Options is the connection filter's JA4 allow- and deny-list.
	JA4Options = listen.JA4Options
)

// Balance policies for an upstream group.
const (
	BalanceRoundRobin = upstream.BalanceRoundRobin
	BalanceLeastConn  = upstream.BalanceLeastConn
)

// RouteOptions sends matching requests to an upstream group.
type RouteOptions struct {
	// Host matches the request's host (without port, case-insensitive):
	// exactly, or "*.example.com" for any subdomain of example.com (not
	// example.com itself). Empty matches any host.
	Host string `yaml:"host"`
	// PathPrefix matches the start of the canonical request path, as a
	// plain string prefix ("/api" matches "/apix" too; write "/api/" for
	// the directory); empty or "/" matches every path. It must itself be
	// canonical (see proxy/canon).
	PathPrefix string `yaml:"path_prefix"`
	// Upstream names a group in upstreams.
	Upstream string `yaml:"upstream"`
	// ClientIdentity tightens the listener's: requests matching the route
	// from a client whose verified certificate its Allow rules refuse (or
	// from a client with none) get 403 and go nowhere. Its Forward adds to
	// the listener's headers.
	ClientIdentity mtls.Options `yaml:"client_identity"`
}

// ForwardingOptions is the one mechanism for the headers only the proxy may
// set. Incoming copies of them are removed at intake, in every spelling a
// framework reads as the same name ("_" for "-", any case), before hooks
// run; the proxy then sets X-Forwarded-For, X-Forwarded-Proto,
// X-Forwarded-Host, X-Forwarded-Port, Forwarded, Via and X-Real-IP itself.
type ForwardingOptions struct {
	// TrustedProxies (trusted_proxies) lists the addresses or CIDRs of
	// proxies in front of Gantry whose forwarding chain is extended rather
	// than replaced: from them the incoming X-Forwarded-For, Forwarded and
	// Via are kept and appended to, X-Forwarded-Proto/-Host/-Port are kept
	// when present, and X-Real-IP is the right-most chain address that is
	// not a trusted proxy. Empty trusts nobody.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// OwnedHeaders (owned_headers) are extra header names only the proxy
	// may set: incoming copies are always removed. A trailing "*" makes
	// the name a prefix ("X-Auth-*").
	OwnedHeaders []string `yaml:"owned_headers"`
}

// Timeouts: every one is finite. A zero field means its default; a negative
// one is an error from New. The comments give the config key and default.
type Timeouts struct {
	// TLSHandshake (tls_handshake, 10s) bounds a downstream TLS handshake,
	// and the PROXY protocol header before it.
	TLSHandshake time.Duration `yaml:"tls_handshake"`
	// RequestHeader (request_header, 10s) bounds reading a whole request
	// head, counted from its first byte being awaited, not per byte.
	RequestHeader time.Duration `yaml:"request_header"`
	// RequestBody (request_body, 60s) is how long a request body may stay
	// idle (no byte arriving).
	RequestBody time.Duration `yaml:"request_body"`
	// ResponseWrite (response_write, 60s) bounds each write to the client.
	ResponseWrite time.Duration `yaml:"response_write"`
	// KeepaliveIdle (keepalive_idle, 60s) closes a client connection with no
	// request in flight for this long (HTTP/1.1 keep-alive and HTTP/2).
	KeepaliveIdle time.Duration `yaml:"keepalive_idle"`
	// H2StreamIdle (h2_stream_idle, 60s) resets an HTTP/2 stream whose
	// request body stays idle this long with RST_STREAM CANCEL, whether or
	// not its response has started; the connection's other streams go on.
	H2StreamIdle time.Duration `yaml:"h2_stream_idle"`
	// UpstreamConnect (upstream_connect, 5s) bounds a TCP connect upstream.
	UpstreamConnect time.Duration `yaml:"upstream_connect"`
	// UpstreamTLSHandshake (upstream_tls_handshake, 10s) bounds the upstream
	// TLS handshake.
	UpstreamTLSHandshake time.Duration `yaml:"upstream_tls_handshake"`
	// UpstreamResponseHeader (upstream_response_header, 60s) is how long to
	// wait for the response head once the request is sent; exceeded → 504.
	UpstreamResponseHeader time.Duration `yaml:"upstream_response_header"`
	// UpstreamRead (upstream_read, 60s) is how long the response body may
	// stay idle.
	UpstreamRead time.Duration `yaml:"upstream_read"`
	// UpstreamWrite (upstream_write, 60s) bounds each write upstream.
	UpstreamWrite time.Duration `yaml:"upstream_write"`
	// ShutdownGrace (shutdown_grace, 30s) is how long a graceful shutdown
	// lets in-flight requests finish before closing their connections.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// Limits bound what one client may send. Zero fields mean the defaults.
type Limits struct {
	// MaxHeaderBytes (max_header_bytes, 64 KiB) bounds a request head:
	// request line plus fields. Exceeded → 431.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxHeaderCount (max_header_count, 100) bounds the number of header
	// fields. Exceeded → 431.
	MaxHeaderCount int `yaml:"max_header_count"`
	// MaxBodyBytes (max_body_bytes) bounds a request body; zero means no
	// limit. Exceeded → 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// H2MaxConcurrentStreams (h2_max_concurrent_streams, 100) bounds the
	// streams one HTTP/2 client connection may have open at once.
	H2MaxConcurrentStreams uint32 `yaml:"h2_max_concurrent_streams"`
	// MaxConns (max_conns) bounds open downstream connections per listener;
	// zero means no limit. Connections beyond it are closed on accept.
	MaxConns int `yaml:"max_conns"`
}

// ConnectOptions is the CONNECT policy. CONNECT turns the proxy into a TCP
// relay, so it is off by default.
type ConnectOptions struct {
	// Allow enables CONNECT; otherwise it is answered 405.
	Allow bool `yaml:"allow"`
	// Ports are the only destination ports CONNECT may reach (others get
	// 403). Empty with allow set means 443 only.
	Ports []int `yaml:"ports"`
}

// Access log formats.
const (
	LogFormatJSON = "json"
	LogFormatText = "text"
)

// AccessLogOptions configures the per-request log. Records never contain
// bodies, and header values of Authorization, Proxy-Authorization, Cookie,
// Set-Cookie and RedactHeaders are written as "[REDACTED]".
type AccessLogOptions struct {
	// Logger receives the records. It takes precedence over Writer.
	Logger *slog.Logger `yaml:"-"`
	// Writer receives records formatted as Format.
	Writer io.Writer `yaml:"-"`
	// Format is LogFormatJSON (the default) or LogFormatText; used with
	// Writer only.
	Format string `yaml:"-"`
	// Headers lists request headers to include in each record (values of
	// sensitive ones redacted). Empty logs no headers.
	Headers []string `yaml:"-"`
	// RedactHeaders are extra header names whose values are never logged.
	RedactHeaders []string `yaml:"-"`
}

// Metrics receives counters and timings. Implementations must be safe for
// concurrent use and fast: they are called on the request path.
type Metrics interface {
	// Handshake is called after each downstream TLS handshake; err is nil
	// on success, version and cipher are the negotiated ones then.
	Handshake(listener, backend string, version, cipher uint16, d time.Duration, err error)
	// ConnOpen is called with +1 when a downstream connection is accepted and
	// -1 when it closes.
	ConnOpen(listener string, delta int)
	// Request is called once per finished request.
	Request(listener, upstream string, status int, d time.Duration)
	// UpstreamError is called for each failed upstream attempt.
	UpstreamError(upstream, addr string, err error)
}

// DNSMetrics is implemented by a Metrics that also counts the background
// resolutions of upstream names; result is one of "ok", "changed",
// "empty" and "error" (upstream.ResolveOK and the others).
type DNSMetrics interface {
	DNSResolution(group, result string)
}

// IdentityMetrics is implemented by a Metrics that also counts client
// identity refusals: level is "listener" (connection closed after the
// handshake) or "route" (403), reason one of mtls.Reasons.
type IdentityMetrics interface {
	ClientIdentityRefused(listener, level string, reason mtls.Reason)
}

// HelloMetrics is implemented by a Metrics that also counts connections
// refused on their ClientHello, by reason (one of listen.HelloReasons).
type HelloMetrics interface {
	ClientHelloRefused(listener, reason string)
}
