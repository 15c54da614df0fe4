package proxy

import (
	"context"
	stdtls "crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// accessLog writes one record per request. It never sees bodies, and it
// writes credential-bearing header values as "[REDACTED]".
type accessLog struct {
	logger  *slog.Logger
	headers []string
	redact  map[string]bool
}

// Redacted is what the access log writes instead of a sensitive value.
const Redacted = "[REDACTED]"

var alwaysRedacted = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

func newAccessLog(o AccessLogOptions) (*accessLog, error) {
	a := &accessLog{logger: o.Logger, redact: make(map[string]bool)}
	if a.logger == nil && o.Writer != nil {
		switch o.Format {
		case "", LogFormatJSON:
			a.logger = slog.New(slog.NewJSONHandler(o.Writer, nil))
		case LogFormatText:
			a.logger = slog.New(slog.NewTextHandler(o.Writer, nil))
		default:
			return nil, fmt.Errorf("proxy: access log format %q (want %s or %s)", o.Format, LogFormatJSON, LogFormatText)
		}
	}
	for _, n := range alwaysRedacted {
		a.redact[n] = true
	}
	for _, n := range o.RedactHeaders {
		a.redact[strings.ToLower(n)] = true
	}
	a.headers = o.Headers
	return a, nil
}

func (a *accessLog) log(s *Session, err error) {
	if a.logger == nil || !a.logger.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	d := &s.Downstream
	attrs := make([]slog.Attr, 0, 24)
	client := ""
	if d.RemoteAddr != nil {
		client = d.RemoteAddr.String()
	}
	attrs = append(attrs,
		slog.String("client", client),
		slog.String("listener", d.Listener),
		slog.String("proto", d.Proto),
	)
	if d.TLS != nil {
		attrs = append(attrs,
			slog.String("sni", d.TLS.ServerName),
			slog.String("tls_backend", d.TLSBackend),
			slog.String("tls_version", stdtls.VersionName(d.TLS.Version)),
			slog.String("cipher", stdtls.CipherSuiteName(d.TLS.CipherSuite)),
			slog.String("alpn", d.TLS.NegotiatedProtocol),
		)
		if d.TLS.ECHAccepted {
			// sni is then the inner, encrypted name; the wire showed only
			// the public name.
			attrs = append(attrs, slog.Bool("ech", true))
		}
		if d.JA4 != "" {
			attrs = append(attrs, slog.String("ja4", d.JA4))
		}
	}
	if id := d.ClientIdentity; id != nil {
		// Who the client is, never its certificate.
		attrs = append(attrs,
			slog.String("client_subject", id.Subject),
			slog.String("client_serial", id.Serial),
			slog.String("client_spki_sha256", id.SPKISHA256),
			slog.String("client_issuer", id.Issuer),
		)
		// SANs only when there are some: most certificates carry one kind.
		for _, san := range [...]struct {
			key   string
			names []string
		}{{"client_dns", id.DNS}, {"client_uri", id.URI}, {"client_email", id.Email}} {
			if len(san.names) > 0 {
				attrs = append(attrs, slog.Any(san.key, san.names))
			}
		}
	}
	r := &s.Request
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("host", r.Authority),
		slog.String("path", r.Path),
		slog.Int("status", s.Response.Status),
		slog.Int64("bytes_in", atomic.LoadInt64(&s.BytesIn)),
		slog.Int64("bytes_out", s.BytesOut),
	)
	if s.Peer != nil {
		attrs = append(attrs, slog.String("upstream", s.Peer.Group), slog.String("upstream_addr", s.Peer.Addr))
	}
	attrs = append(attrs,
		slog.Duration("duration", time.Since(s.Start)),
		slog.Duration("upstream_duration", s.UpstreamDuration),
	)
	if len(a.headers) > 0 {
		hs := make([]any, 0, len(a.headers))
		for _, name := range a.headers {
			vals := headerValues(&r.Header, name)
			if len(vals) == 0 {
				continue
			}
			v := strings.Join(vals, ", ")
			if a.redact[strings.ToLower(name)] {
				v = Redacted
			}
			hs = append(hs, slog.String(strings.ToLower(name), v))
		}
		attrs = append(attrs, slog.Group("headers", hs...))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	a.logger.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}
