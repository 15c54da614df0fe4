package config

import (
	"io"
	"log/slog"
	"slices"

	"github.com/gantry-proxy/gantry/proxy"
)

// Options builds the proxy's options from a validated config. The proxy
// sections were decoded into the proxy's own structs, so this only places
// them and adds what the process owns: loggers and the access log.
// Operational logs go to logs, the access log (when logging.access_log is
// on) to access. Everything was loaded by Load, so this cannot fail.
func (c *Config) Options(logs, access io.Writer) proxy.Options {
	opts := proxy.Options{
		Listeners: make([]proxy.ListenerOptions, len(c.Listeners)),
		Upstreams: make(map[string]*proxy.UpstreamGroupOptions, len(c.Upstreams)),
		Routes:    append([]proxy.RouteOptions(nil), c.Routes...),
		Timeouts:  c.Server.Timeouts,
		Limits:    c.Server.Limits,
		Connect:   c.Server.Connect,
		Filter:    c.Server.Filter,
		DNS:       c.Server.DNS,
		Forwarding: proxy.ForwardingOptions{
			TrustedProxies: append([]string(nil), c.Server.Forwarding.TrustedProxies...),
			OwnedHeaders:   append([]string(nil), c.Server.Forwarding.OwnedHeaders...),
		},
		Logger: NewLogger(c.Logging, logs),
	}
	opts.DNS.Resolvers = slices.Clone(c.Server.DNS.Resolvers)
	// Copies, so that nothing the proxy does to its options reaches the
	// config, which a reload compares against.
	for name, g := range c.Upstreams {
		cp := *g
		opts.Upstreams[name] = &cp
	}
	for i, l := range c.Listeners {
		// Zero listener timeouts inherit server.timeouts in the proxy. The
		// handshake one is always the listener's effective value, so the
		// deadline on the raw connection and the backend's own timeout
		// agree even when only tls.handshake_timeout is set.
		l.Timeouts.TLSHandshake = l.TLS.Config.HandshakeTimeout
		opts.Listeners[i] = l
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
