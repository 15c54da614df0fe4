package proxy

import (
	"io"
	"log/slog"
	"time"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Options is everything New needs: plain data, filled by the config package
// from YAML or by a Go program embedding the proxy. Zero values mean the
// documented defaults; every timeout is finite whatever is left zero.
type Options struct {
	// Listeners are the downstream sockets. At least one is required unless
	// the caller passes its own net.Listeners to Serve.
	Listeners []ListenerOptions
	// Upstreams are the origin groups routes point at, by name. The map key
	// is the group's name; UpstreamGroupOptions.Name, when set, must match.
	Upstreams map[string]*UpstreamGroupOptions
	// Routes are tried in order; the first match picks the upstream group.
	// They are ignored when Hooks.UpstreamPeer is set.
	Routes []RouteOptions

	// Timeouts apply to every listener and upstream unless a listener
	// overrides them.
	Timeouts Timeouts
	// Limits bound what one client may send.
	Limits Limits
	// Connect is the policy for the CONNECT method: refused (405) by default.
	Connect ConnectOptions
	// Filter accepts or refuses connections by remote address alone,
	// before any TLS byte is read.
	Filter ConnFilterOptions

	// AccessLog writes one record per request. Nothing is written when both
	// Logger and Writer are nil.
	AccessLog AccessLogOptions
	// Logger receives operational messages (accept errors, handshake
	// failures, upstream errors). Nil discards them.
	Logger *slog.Logger
	// Metrics, when set, is told about connections, handshakes, requests and
	// upstream errors. Nil means no metrics.
	Metrics Metrics

	// Hooks let a Go program change what the proxy does at each phase of a
	// request. Nil members keep the default behaviour.
	Hooks Hooks
}

// ListenerOptions is one downstream socket.
type ListenerOptions struct {
	// Name identifies the listener in logs and metrics; defaults to Addr.
	Name string
	// Addr is the TCP address to bind, e.g. "127.0.0.1:8443" or ":443".
	Addr string
	// TLS terminates TLS on this listener. Nil serves plaintext HTTP/1.1
	// only (for use behind a TLS-terminating load balancer, and tests).
	TLS *ListenerTLS
	// ProxyProtocol requires every connection to start with a PROXY
	// protocol header (HAProxy v1 or v2, before TLS), whose source address
	// then stands for the client everywhere (logs, X-Forwarded-For). Only
	// enable it behind a load balancer that always sends one: a connection
	// without a valid header is closed. The connection filter still judges
	// the socket's peer, i.e. the balancer.
	ProxyProtocol bool
	// Timeouts overrides the proxy-wide Timeouts for connections accepted
	// here; zero fields inherit the proxy-wide value. Only the downstream
	// ones apply per listener (tls_handshake, request_header, request_body,
	// response_write, keepalive_idle, h2_stream_idle); upstream timeouts and
	// shutdown_grace are proxy-wide.
	Timeouts Timeouts
}

// ListenerTLS selects the TLS backend and configuration of a listener.
type ListenerTLS struct {
	// Backend is the registry name of the TLS backend: "gostd" (the
	// default when empty), "openssl" or "boringssl". A backend that is not
	// compiled in is an error from New that names the build tag.
	Backend string
	// Config is compiled once by the backend. When Config.ALPN is empty it
	// defaults to ["h2", "http/1.1"]. Config.HandshakeTimeout, when zero,
	// takes Timeouts.TLSHandshake.
	Config gantrytls.ServerConfig
}

// Balance policies for an upstream group.
const (
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
)

// UpstreamGroupOptions is a set of interchangeable origin servers.
type UpstreamGroupOptions struct {
	// Name of the group; routes refer to it. Optional when the group sits in
	// Options.Upstreams, whose key is the name.
	Name string
	// Addrs are "host:port" of the servers. At least one is required.
	Addrs []string
	// Balance is BalanceRoundRobin (the default) or BalanceLeastConn.
	Balance string

	// MaxFails consecutive failures (connect, TLS, or a broken response)
	// eject a server for EjectFor. Zero means 3; negative turns passive
	// health checking off.
	MaxFails int
	// EjectFor is how long an ejected server is skipped. Zero means 10s.
	// When every server of a group is ejected, they are all tried anyway:
	// a guess beats a certain 502.
	EjectFor time.Duration

	// HealthCheck, when set, probes each server in the background and skips
	// the ones that fail.
	HealthCheck *HealthCheckOptions

	// TLS dials the servers over TLS. Nil means plain HTTP/1.1.
	TLS *UpstreamTLS

	// MaxIdleConns bounds the idle keep-alive connections kept per server.
	// Zero means 32; negative disables pooling.
	MaxIdleConns int
	// IdleConnTimeout closes pooled connections unused this long. Zero means
	// 60s.
	IdleConnTimeout time.Duration
}

// UpstreamTLS selects the TLS backend and configuration for an upstream
// group.
type UpstreamTLS struct {
	// Backend as in ListenerTLS; "gostd" when empty.
	Backend string
	// Config is compiled once by the backend. Certificates are verified by
	// default; see ClientConfig.DisableVerifyCert/DisableVerifyHostname.
	// When Config.ALPN is empty it defaults to ["http/1.1"]; set
	// ["h2", "http/1.1"] to let servers pick HTTP/2.
	Config gantrytls.ClientConfig
	// ServerName is sent as SNI and verified against the certificate. Empty
	// means the host part of each server's address.
	ServerName string
}

// HealthCheckOptions is an active health check: a GET of Path on every
// server each Interval.
type HealthCheckOptions struct {
	// Path requested, e.g. "/healthz". Required.
	Path string
	// Interval between probes. Zero means 10s.
	Interval time.Duration
	// Timeout of one probe (connect to end of response head). Zero means 2s.
	Timeout time.Duration
	// ExpectStatus is the status a healthy server answers. Zero means any
	// 2xx or 3xx.
	ExpectStatus int
}

// RouteOptions sends matching requests to an upstream group.
type RouteOptions struct {
	// Host matches the request's host (without port, case-insensitive):
	// exactly, or "*.example.com" for any subdomain of example.com (not
	// example.com itself). Empty matches any host.
	Host string
	// PathPrefix matches the start of the request path; empty or "/"
	// matches every path.
	PathPrefix string
	// Upstream names a group in Options.Upstreams.
	Upstream string
}

// Timeouts: every one is finite. A zero field means its default; a negative
// one is an error from New. The comments give the config key and default.
type Timeouts struct {
	// TLSHandshake (tls_handshake, 10s) bounds a downstream TLS handshake.
	TLSHandshake time.Duration
	// RequestHeader (request_header, 10s) bounds reading a whole request
	// head, counted from its first byte being awaited, not per byte.
	RequestHeader time.Duration
	// RequestBody (request_body, 60s) is how long a request body may stay
	// idle (no byte arriving).
	RequestBody time.Duration
	// ResponseWrite (response_write, 60s) bounds each write to the client.
	ResponseWrite time.Duration
	// KeepaliveIdle (keepalive_idle, 60s) closes a client connection with no
	// request in flight for this long (HTTP/1.1 keep-alive and HTTP/2).
	KeepaliveIdle time.Duration
	// H2StreamIdle (h2_stream_idle, 60s) resets an HTTP/2 stream whose
	// request body stays idle this long with RST_STREAM CANCEL, whether or
	// not its response has started; the connection's other streams go on.
	H2StreamIdle time.Duration
	// UpstreamConnect (upstream_connect, 5s) bounds a TCP connect upstream.
	UpstreamConnect time.Duration
	// UpstreamTLSHandshake (upstream_tls_handshake, 10s) bounds the upstream
	// TLS handshake.
	UpstreamTLSHandshake time.Duration
	// UpstreamResponseHeader (upstream_response_header, 60s) is how long to
	// wait for the response head once the request is sent; exceeded → 504.
	UpstreamResponseHeader time.Duration
	// UpstreamRead (upstream_read, 60s) is how long the response body may
	// stay idle.
	UpstreamRead time.Duration
	// UpstreamWrite (upstream_write, 60s) bounds each write upstream.
	UpstreamWrite time.Duration
	// ShutdownGrace (shutdown_grace, 30s) is how long Shutdown lets
	// in-flight requests finish before closing their connections.
	ShutdownGrace time.Duration
}

// Limits bound what one client may send. Zero fields mean the defaults.
type Limits struct {
	// MaxHeaderBytes (max_header_bytes, 64 KiB) bounds a request head:
	// request line plus fields. Exceeded → 431.
	MaxHeaderBytes int
	// MaxHeaderCount (max_header_count, 100) bounds the number of header
	// fields. Exceeded → 431.
	MaxHeaderCount int
	// MaxBodyBytes (max_body_bytes) bounds a request body; zero means no
	// limit. Exceeded → 413.
	MaxBodyBytes int64
	// MaxConcurrentStreams (max_concurrent_streams, 100) per HTTP/2
	// connection.
	MaxConcurrentStreams uint32
	// MaxConns (max_conns) bounds open downstream connections per listener;
	// zero means no limit. Connections beyond it are closed on accept.
	MaxConns int
}

// ConnectOptions is the CONNECT policy. CONNECT turns the proxy into a TCP
// relay, so it is off by default.
type ConnectOptions struct {
	// Allow enables CONNECT; otherwise it is answered 405.
	Allow bool
	// Ports are the only destination ports CONNECT may reach (others get
	// 403). Empty with Allow set means 443 only.
	Ports []int
}

// ConnFilterOptions is the connection filter: the first line of defence,
// applied to every listener on accept. Refused connections are closed
// without a byte written.
type ConnFilterOptions struct {
	// Allow, when not empty, lists the only CIDRs (e.g. "10.0.0.0/8",
	// "2001:db8::/32") or single addresses that may connect.
	Allow []string
	// Deny lists CIDRs or addresses refused even when Allow matches.
	Deny []string
	// MaxConnsPerIP bounds open connections per client address; zero means
	// no limit.
	MaxConnsPerIP int
	// RatePerIP bounds new connections per second per client address (a
	// token bucket holding RateBurst); zero means no limit.
	RatePerIP float64
	// RateBurst is how many connections a client may open at once before
	// RatePerIP applies. Zero means max(1, 2×RatePerIP).
	RateBurst int
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
	Logger *slog.Logger
	// Writer receives records formatted as Format.
	Writer io.Writer
	// Format is LogFormatJSON (the default) or LogFormatText; used with
	// Writer only.
	Format string
	// Headers lists request headers to include in each record (values of
	// sensitive ones redacted). Empty logs no headers.
	Headers []string
	// RedactHeaders are extra header names whose values are never logged.
	RedactHeaders []string
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
