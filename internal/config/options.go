package config

import (
	"io"
	"log/slog"

	"github.com/gantry-proxy/gantry/proxy"
)

// Options builds the proxy's options from a validated config. Operational
// logs go to logs, the access log (when logging.access_log is on) to
// access. Everything was loaded by Load, so this cannot fail.
func (c *Config) Options(logs, access io.Writer) proxy.Options {
	t := c.Server.Timeouts
	opts := proxy.Options{
		Timeouts: proxy.Timeouts{
			TLSHandshake:           t.TLSHandshake,
			RequestHeader:          t.RequestHeader,
			RequestBody:            t.RequestBody,
			ResponseWrite:          t.ResponseWrite,
			KeepaliveIdle:          t.KeepaliveIdle,
			H2StreamIdle:           t.H2StreamIdle,
			UpstreamConnect:        t.UpstreamConnect,
			UpstreamTLSHandshake:   t.UpstreamTLSHandshake,
			UpstreamResponseHeader: t.UpstreamResponseHeader,
			UpstreamRead:           t.UpstreamRead,
			UpstreamWrite:          t.UpstreamWrite,
			ShutdownGrace:          t.ShutdownGrace,
		},
		Limits: proxy.Limits{
			MaxHeaderBytes:       c.Server.Limits.MaxHeaderBytes,
			MaxHeaderCount:       c.Server.Limits.MaxHeaderCount,
			MaxBodyBytes:         c.Server.Limits.MaxBodyBytes,
			MaxConcurrentStreams: c.Server.Limits.H2MaxConcurrentStreams,
			MaxConns:             c.Server.Limits.MaxConns,
		},
		Connect: proxy.ConnectOptions{
			Allow: c.Server.Connect.Allow,
			Ports: append([]int(nil), c.Server.Connect.Ports...),
		},
		Upstreams: make(map[string]*proxy.UpstreamGroupOptions, len(c.Upstreams)),
		Logger:    NewLogger(c.Logging, logs),
	}

	for i, l := range c.Listeners {
		sc := *c.ServerTLS(i)
		lt := l.Timeouts
		opts.Listeners = append(opts.Listeners, proxy.ListenerOptions{
			Name: l.Name,
			Addr: l.Address,
			TLS: &proxy.ListenerTLS{
				Backend: l.TLS.Backend,
				Config:  sc,
			},
			// Zero fields inherit server.timeouts in the proxy. The
			// handshake one is always the listener's effective value, so
			// the deadline on the raw connection and the backend's own
			// timeout agree even when only tls.handshake_timeout is set.
			Timeouts: proxy.Timeouts{
				TLSHandshake:  sc.HandshakeTimeout,
				RequestHeader: lt.RequestHeader,
				RequestBody:   lt.RequestBody,
				ResponseWrite: lt.ResponseWrite,
				KeepaliveIdle: lt.KeepaliveIdle,
				H2StreamIdle:  lt.H2StreamIdle,
			},
		})
	}

	for _, name := range sortedKeys(c.Upstreams) {
		u := c.Upstreams[name]
		g := &proxy.UpstreamGroupOptions{
			Name:            name,
			Addrs:           append([]string(nil), u.Addresses...),
			Balance:         u.Balance,
			MaxFails:        u.Health.MaxFails,
			EjectFor:        u.Health.EjectFor,
			MaxIdleConns:    u.MaxIdleConns,
			IdleConnTimeout: u.IdleConnTimeout,
		}
		if hc := u.Health.Check; hc != nil {
			g.HealthCheck = &proxy.HealthCheckOptions{
				Path:         hc.Path,
				Interval:     hc.Interval,
				Timeout:      hc.Timeout,
				ExpectStatus: hc.ExpectStatus,
			}
		}
		if cc := c.loaded.upstreams[name]; cc != nil {
			g.TLS = &proxy.UpstreamTLS{
				Backend:    u.TLS.Backend,
				Config:     *cc,
				ServerName: u.TLS.ServerName,
			}
		}
		opts.Upstreams[name] = g
	}

	for _, r := range c.Routes {
		opts.Routes = append(opts.Routes, proxy.RouteOptions{
			Host:       r.Host,
			PathPrefix: r.PathPrefix,
			Upstream:   r.Upstream,
		})
	}

	if c.Logging.AccessLogEnabled() && access != nil {
		opts.AccessLog = proxy.AccessLogOptions{
			Writer:        access,
			Format:        c.Logging.Format,
			Headers:       append([]string(nil), c.Logging.AccessLogHeaders...),
			RedactHeaders: append([]string(nil), c.Logging.RedactHeaders...),
		}
	}
	return opts
}

// NewLogger makes the operational logger logging.level and logging.format
// ask for.
func NewLogger(l Logging, w io.Writer) *slog.Logger {
	if w == nil {
		return nil
	}
	var level slog.Level
	switch l.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	ho := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, ho))
	}
	return slog.New(slog.NewJSONHandler(w, ho))
}
