package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gantry-proxy/gantry/internal/metrics"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// The metrics endpoint is scraped by one Prometheus every few seconds; these
// bounds keep a slow or hostile client from holding its goroutines, as the
// proxy's own timeouts do for the listeners.
const (
	metricsReadHeaderTimeout = 5 * time.Second
	metricsReadTimeout       = 10 * time.Second
	// Longer than the handler's own 10s gather timeout, so a slow gather is
	// answered with an error rather than a cut connection.
	metricsWriteTimeout   = 15 * time.Second
	metricsIdleTimeout    = 60 * time.Second
	metricsMaxHeaderBytes = 16 << 10
	// metricsShutdownGrace is short: a scrape is quick, and it must not
	// delay the proxy's own shutdown noticeably.
	metricsShutdownGrace = 2 * time.Second
)

// metricsServer serves /metrics for one proxy.
type metricsServer struct {
	ln  net.Listener
	mux *http.ServeMux
	srv *http.Server
	// done is closed when Serve returns; nil until serve is called.
	done chan struct{}
}

// newMetrics makes the collectors `gantry serve` hands the proxy.
func newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Build{Version: version, Backends: gantrytls.Names()})
}

// listenMetrics binds addr. It is called with the proxy's listeners, before
// privileges are dropped, so a port below 1024 works too.
func listenMetrics(addr string, m *metrics.Metrics) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return newMetricsServer(ln, m), nil
}

// newMetricsServer serves m on ln, bound here or handed over by the
// process an upgrade replaces.
func newMetricsServer(ln net.Listener, m *metrics.Metrics) *metricsServer {
	mux := http.NewServeMux()
	// Exactly /metrics: anything else is a 404, so the port exposes nothing
	// but the counters (no pprof, no index page).
	mux.Handle("GET /metrics", m.Handler())
	return &metricsServer{
		ln:  ln,
		mux: mux,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: metricsReadHeaderTimeout,
			ReadTimeout:       metricsReadTimeout,
			WriteTimeout:      metricsWriteTimeout,
			IdleTimeout:       metricsIdleTimeout,
			MaxHeaderBytes:    metricsMaxHeaderBytes,
		},
	}
}

// Addr is the bound address (the real port when the config said 0).
func (s *metricsServer) Addr() net.Addr { return s.ln.Addr() }

// serve runs until shutdown; an unexpected end is reported on stderr but
// does not stop the proxy, which matters more than its counters.
func (s *metricsServer) serve(stderr io.Writer) {
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "gantry serve: metrics: %v\n", err)
		}
	}()
}

// shutdown lets a scrape in progress finish briefly, then closes.
func (s *metricsServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), metricsShutdownGrace)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	// Shutdown closes only listeners Serve has seen; when serve was never
	// called the listener is still ours.
	_ = s.ln.Close()
	if s.done != nil {
		<-s.done
	}
}
