package metrics

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy"
	"github.com/gantry-proxy/gantry/proxy/listen"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// Handshake results, the values of the result label.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultTimeout = "timeout"
)

// Build describes the binary for gantry_build_info.
type Build struct {
	// Version of Gantry, e.g. "0.1.0".
	Version string
	// Backends compiled into the binary, e.g. ["gostd", "openssl"].
	Backends []string
}

// Metrics is a proxy.Metrics backed by Prometheus collectors on a registry
// of its own. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	handshakes       *prometheus.CounterVec
	handshakeSeconds *prometheus.HistogramVec
	requests         *prometheus.CounterVec
	requestSeconds   *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec
	openConns        *prometheus.GaugeVec
	dns              *prometheus.CounterVec
	identity         *prometheus.CounterVec
	hello            *prometheus.CounterVec
}

var (
	_ proxy.Metrics         = (*Metrics)(nil)
	_ proxy.DNSMetrics      = (*Metrics)(nil)
	_ proxy.IdentityMetrics = (*Metrics)(nil)
	_ proxy.HelloMetrics    = (*Metrics)(nil)
)

// Handshakes take milliseconds on a LAN and up to the handshake timeout
// (10s by default) for a slow or hostile client, so the buckets run from
// 1ms to 10s.
var handshakeBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Requests include the upstream's time, which the default timeouts allow
// to reach a minute.
var requestBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New makes the collectors and registers them, with the Go runtime and
// process collectors and gantry_build_info, on a new registry.
func New(b Build) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_tls_handshakes_total",
			Help: "Downstream TLS handshakes by listener, TLS backend, negotiated version and cipher suite (empty unless ok), and result (ok, error, timeout).",
		}, []string{"listener", "backend", "version", "cipher", "result"}),
		handshakeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gantry_tls_handshake_seconds",
			Help:    "Time taken by downstream TLS handshakes, successful or not.",
			Buckets: handshakeBuckets,
		}, []string{"listener", "backend"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_requests_total",
			Help: "Finished requests by listener, upstream group (empty when none was chosen) and status class (1xx-5xx, or other).",
		}, []string{"listener", "upstream", "code"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gantry_request_seconds",
			Help:    "Time from the start of a request to the end of its response.",
			Buckets: requestBuckets,
		}, []string{"listener"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_upstream_errors_total",
			Help: "Failed upstream attempts (connect, TLS, timeout, broken response) by upstream group and server address.",
		}, []string{"group", "addr"}),
		openConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_open_connections",
			Help: "Downstream connections currently open, by listener.",
		}, []string{"listener"}),
		dns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_dns_resolutions_total",
			Help: "Background resolutions of upstream host names and SRV records by upstream group and result: ok (same servers), changed (servers joined or left), empty (no address: last servers kept), error (failed or timed out: last servers kept).",
		}, []string{"group", "result"}),
		identity: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_client_identity_refusals_total",
			Help: "Verified clients refused by client_identity rules, by listener, level (listener: connection closed after the handshake; route: 403) and reason (no_certificate, dns, uri, email, cn, o, ou, issuer, spki, none_matched).",
		}, []string{"listener", "level", "reason"}),
		hello: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_client_hello_refusals_total",
			Help: "Downstream connections refused on their ClientHello, before the TLS handshake, by listener and reason (sni_not_allowed, sni_missing, ja4_denied, ja4_not_allowed, hello_too_large, hello_too_many_records, hello_not_tls, hello_malformed).",
		}, []string{"listener", "reason"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gantry_build_info",
		Help: "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{
			"version":  b.Version,
			"go":       runtime.Version(),
			"backends": strings.Join(b.Backends, ","),
		},
	})
	build.Set(1)
	m.reg.MustRegister(
		m.handshakes, m.handshakeSeconds,
		m.requests, m.requestSeconds,
		m.upstreamErrors, m.openConns, m.dns, m.identity, m.hello,
		build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the registry the collectors live on, for a program that
// wants to add its own or gather them another way.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves this registry's metrics in the Prometheus exposition
// format. A collector that fails is reported in the response rather than
// failing the scrape, so one broken collector does not hide the others.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Handshake implements proxy.Metrics.
func (m *Metrics) Handshake(listener, backend string, version, cipher uint16, d time.Duration, err error) {
	result, versionName, cipherName := ResultOK, "", ""
	switch {
	case err == nil:
		versionName = stdtls.VersionName(version)
		cipherName = cipherSuiteName(cipher)
	case isTimeout(err):
		result = ResultTimeout
	default:
		result = ResultError
	}
	m.handshakes.WithLabelValues(listener, backend, versionName, cipherName, result).Inc()
	m.handshakeSeconds.WithLabelValues(listener, backend).Observe(d.Seconds())
}

// ConnOpen implements proxy.Metrics.
func (m *Metrics) ConnOpen(listener string, delta int) {
	m.openConns.WithLabelValues(listener).Add(float64(delta))
}

// Request implements proxy.Metrics.
func (m *Metrics) Request(listener, upstream string, status int, d time.Duration) {
	m.requests.WithLabelValues(listener, upstream, statusClass(status)).Inc()
	m.requestSeconds.WithLabelValues(listener).Observe(d.Seconds())
}

// UpstreamError implements proxy.Metrics. The error itself is not a label:
// its text varies without bound (addresses, ports, timings).
func (m *Metrics) UpstreamError(group, addr string, _ error) {
	m.upstreamErrors.WithLabelValues(group, addr).Inc()
}

// DNSResolution implements proxy.DNSMetrics. result is one of a fixed set
// (upstream.ResolveOK and the others); anything else counts as error.
func (m *Metrics) DNSResolution(group, result string) {
	switch result {
	case upstream.ResolveOK, upstream.ResolveChanged, upstream.ResolveEmpty:
	default:
		result = upstream.ResolveError
	}
	m.dns.WithLabelValues(group, result).Inc()
}

// ClientIdentityRefused implements proxy.IdentityMetrics. level and
// reason come from fixed sets; anything else is counted as "other" so that
// no caller can grow the series.
func (m *Metrics) ClientIdentityRefused(listener, level string, reason mtls.Reason) {
	if level != "listener" && level != "route" {
		level = "other"
	}
	if !slices.Contains(mtls.Reasons(), reason) {
		reason = "other"
	}
	m.identity.WithLabelValues(listener, level, string(reason)).Inc()
}

// ClientHelloRefused implements proxy.HelloMetrics; a reason outside
// listen.HelloReasons counts as "other".
func (m *Metrics) ClientHelloRefused(listener, reason string) {
	if !slices.Contains(listen.HelloReasons(), reason) {
		reason = "other"
	}
	m.hello.WithLabelValues(listener, reason).Inc()
}

// cipherNames is read-only after init. crypto/tls.CipherSuiteName builds
// the whole suite list on every call, which allocated a dozen times per
// handshake here.
var cipherNames = func() map[uint16]string {
	names := make(map[uint16]string)
	for _, s := range append(stdtls.CipherSuites(), stdtls.InsecureCipherSuites()...) {
		names[s.ID] = s.Name
	}
	return names
}()

// cipherSuiteName is the IANA name of id; an unknown id (a backend that
// negotiated something Go does not list) keeps its hex form, still one of a
// bounded set.
func cipherSuiteName(id uint16) string {
	if name, ok := cipherNames[id]; ok {
		return name
	}
	return stdtls.CipherSuiteName(id)
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass keeps the code label to six values whatever a client or an
// upstream sends.
func statusClass(status int) string {
	if status >= 100 && status <= 599 {
		return statusClasses[status/100-1]
	}
	return "other"
}

// isTimeout recognises the ways a handshake runs out of time: the context
// deadline, a connection deadline (os.ErrDeadlineExceeded) or any net.Error
// that says so.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
