package proxy

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Defaults for zero fields of Timeouts, Limits and groups.
const (
	DefaultTLSHandshake           = 10 * time.Second
	DefaultRequestHeader          = 10 * time.Second
	DefaultRequestBody            = 60 * time.Second
	DefaultResponseWrite          = 60 * time.Second
	DefaultKeepaliveIdle          = 60 * time.Second
	DefaultH2StreamIdle           = 60 * time.Second
	DefaultUpstreamConnect        = 5 * time.Second
	DefaultUpstreamTLSHandshake   = 10 * time.Second
	DefaultUpstreamResponseHeader = 60 * time.Second
	DefaultUpstreamRead           = 60 * time.Second
	DefaultUpstreamWrite          = 60 * time.Second
	DefaultShutdownGrace          = 30 * time.Second

	DefaultMaxHeaderBytes       = 64 << 10
	DefaultMaxHeaderCount       = 100
	DefaultMaxConcurrentStreams = 100

	DefaultMaxFails        = 3
	DefaultEjectFor        = 10 * time.Second
	DefaultMaxIdleConns    = 32
	DefaultIdleConnTimeout = 60 * time.Second
)

// DefaultTimeouts returns every timeout at its default.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TLSHandshake:           DefaultTLSHandshake,
		RequestHeader:          DefaultRequestHeader,
		RequestBody:            DefaultRequestBody,
		ResponseWrite:          DefaultResponseWrite,
		KeepaliveIdle:          DefaultKeepaliveIdle,
		H2StreamIdle:           DefaultH2StreamIdle,
		UpstreamConnect:        DefaultUpstreamConnect,
		UpstreamTLSHandshake:   DefaultUpstreamTLSHandshake,
		UpstreamResponseHeader: DefaultUpstreamResponseHeader,
		UpstreamRead:           DefaultUpstreamRead,
		UpstreamWrite:          DefaultUpstreamWrite,
		ShutdownGrace:          DefaultShutdownGrace,
	}
}

// fields lists the timeouts with their config keys, so validation and
// merging treat all of them alike.
func (t *Timeouts) fields() []struct {
	key string
	d   *time.Duration
} {
	return []struct {
		key string
		d   *time.Duration
	}{
		{"tls_handshake", &t.TLSHandshake},
		{"request_header", &t.RequestHeader},
		{"request_body", &t.RequestBody},
		{"response_write", &t.ResponseWrite},
		{"keepalive_idle", &t.KeepaliveIdle},
		{"h2_stream_idle", &t.H2StreamIdle},
		{"upstream_connect", &t.UpstreamConnect},
		{"upstream_tls_handshake", &t.UpstreamTLSHandshake},
		{"upstream_response_header", &t.UpstreamResponseHeader},
		{"upstream_read", &t.UpstreamRead},
		{"upstream_write", &t.UpstreamWrite},
		{"shutdown_grace", &t.ShutdownGrace},
	}
}

// validate refuses negative durations.
func (t Timeouts) validate() error {
	for _, f := range t.fields() {
		if *f.d < 0 {
			return fmt.Errorf("proxy: timeout %s is negative (%v)", f.key, *f.d)
		}
	}
	return nil
}

// over returns t with its zero fields taken from base.
func (t Timeouts) over(base Timeouts) Timeouts {
	out := t
	bf := base.fields()
	for i, f := range out.fields() {
		if *f.d == 0 {
			*f.d = *bf[i].d
		}
	}
	return out
}

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxHeaderBytes < 0 || l.MaxHeaderCount < 0 || l.MaxBodyBytes < 0 || l.MaxConns < 0 {
		return l, errors.New("proxy: limits must not be negative")
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderCount == 0 {
		l.MaxHeaderCount = DefaultMaxHeaderCount
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	return l, nil
}

func validateRoute(i int, r RouteOptions, groups map[string]*UpstreamGroupOptions) error {
	if r.Upstream == "" {
		return fmt.Errorf("proxy: route %d has no upstream", i)
	}
	if _, ok := groups[r.Upstream]; !ok {
		return fmt.Errorf("proxy: route %d names upstream %q, which is not defined", i, r.Upstream)
	}
	if h := r.Host; h != "" {
		if strings.Contains(h[1:], "*") || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) {
			return fmt.Errorf("proxy: route %d host %q: only a leading \"*.\" wildcard is allowed", i, h)
		}
	}
	if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
		return fmt.Errorf("proxy: route %d path prefix %q must start with /", i, r.PathPrefix)
	}
	return nil
}

func validateGroup(name string, g *UpstreamGroupOptions) error {
	if g == nil {
		return fmt.Errorf("proxy: upstream %q is nil", name)
	}
	if g.Name != "" && g.Name != name {
		return fmt.Errorf("proxy: upstream %q has Name %q", name, g.Name)
	}
	if len(g.Addrs) == 0 {
		return fmt.Errorf("proxy: upstream %q has no addresses", name)
	}
	for _, a := range g.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return fmt.Errorf("proxy: upstream %q address %q is not host:port", name, a)
		}
	}
	switch g.Balance {
	case "", BalanceRoundRobin, BalanceLeastConn:
	default:
		return fmt.Errorf("proxy: upstream %q balance %q (want %s or %s)", name, g.Balance, BalanceRoundRobin, BalanceLeastConn)
	}
	if g.EjectFor < 0 || g.IdleConnTimeout < 0 {
		return fmt.Errorf("proxy: upstream %q has a negative duration", name)
	}
	if hc := g.HealthCheck; hc != nil {
		if !strings.HasPrefix(hc.Path, "/") {
			return fmt.Errorf("proxy: upstream %q health check path %q must start with /", name, hc.Path)
		}
		if hc.Interval < 0 || hc.Timeout < 0 || hc.ExpectStatus < 0 || hc.ExpectStatus > 999 {
			return fmt.Errorf("proxy: upstream %q health check has a negative or invalid value", name)
		}
	}
	if g.TLS != nil {
		for _, p := range g.TLS.Config.ALPN {
			if p != "h2" && p != "http/1.1" {
				return fmt.Errorf("proxy: upstream %q ALPN %q (want h2 and/or http/1.1)", name, p)
			}
		}
	}
	return nil
}
