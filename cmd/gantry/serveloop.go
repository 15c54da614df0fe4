package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/signal"
	"syscall"

	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/internal/metrics"
	"github.com/gantry-proxy/gantry/proxy"
)

// runConfig serves a validated config until ctx is cancelled, SIGINT or
// SIGTERM, then shuts down within server.timeouts.shutdown_grace. It is the
// one serving path behind `gantry serve` and `gantry proxy`, so the two
// commands cannot drift apart: a config built from flags gets the same
// metrics, privilege drop, start-up block and shutdown as one read from a
// file. cmd prefixes diagnostics ("gantry serve"); ready, when not nil,
// prints what the caller adds once the listeners are bound (the curl line
// to try).
func runConfig(ctx context.Context, cmd string, c *config.Config, stdout, stderr io.Writer, ready func(addrs []net.Addr)) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts := c.Options(stderr, stdout)
	var (
		m   *metrics.Metrics
		ms  *metricsServer
		err error
	)
	if c.Metrics.Address != "" {
		m = newMetrics()
		opts.Metrics = m
	}
	p, err := proxy.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	if err := p.Listen(); err != nil {
		_ = p.Close()
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	if m != nil {
		// Bound with the listeners, before privileges are dropped.
		if ms, err = listenMetrics(c.Metrics.Address, m); err != nil {
			_ = p.Close()
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return 1
		}
		defer ms.shutdown()
	}
	if err := dropPrivileges(c.Identity()); err != nil {
		_ = p.Close()
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}

	addrs := p.Addrs()
	printStartup(stdout, c, addrs)
	if ms != nil {
		ms.serve(stderr)
		fmt.Fprintf(stdout, "gantry %s: metrics on http://%s/metrics\n", version, ms.Addr())
	}
	if ready != nil && len(addrs) > 0 {
		ready(addrs)
	}

	served := make(chan error, 1)
	go func() { served <- p.Serve(nil) }()

	select {
	case err := <-served:
		// Serve returned without Shutdown: a fatal accept error.
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		_ = p.Close()
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way

	fmt.Fprintf(stderr, "%s: shutting down (grace %s)\n", cmd, c.Server.Timeouts.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), c.Server.Timeouts.ShutdownGrace)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		// Requests cut short at the end of the grace period are expected
		// on a deadline; the shutdown itself still succeeded.
		fmt.Fprintf(stderr, "%s: shutdown: %v\n", cmd, err)
	}
	if err := <-served; err != nil && !errors.Is(err, proxy.ErrServerClosed) {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	}
	return 0
}
