package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gantry-proxy/gantry/internal/config"
)

// runConfig serves a validated config until ctx is cancelled, SIGINT or
// SIGTERM, then shuts down within server.timeouts.shutdown_grace; SIGHUP
// reloads file (when there is one), SIGUSR2 upgrades, SIGUSR1 reopens the
// access log. It is the
// one serving path behind `gantry serve` and `gantry proxy`, so the two
// commands cannot drift apart: a config built from flags gets the same
// metrics, privilege drop, start-up block and shutdown as one read from a
// file. cmd prefixes diagnostics ("gantry serve"); ready, when not nil,
// prints what the caller adds once the listeners are bound (the curl line
// to try).
func runConfig(ctx context.Context, cmd string, c *config.Config, file string, from *handOff, stdout, stderr io.Writer, ready func(addrs []net.Addr)) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The runtime binds (or inherits, during an upgrade) the listeners,
	// the metrics and control sockets, drops privileges and writes the
	// pid file; run then serves, reloads and upgrades until a signal.
	rt, err := newRuntime(c, file, from, stdout, stderr)
	if err != nil {
		from.fail(err)
		// The runtime's errors speak for serve; say which command failed.
		fmt.Fprintf(stderr, "%s: %s\n", cmd, strings.TrimPrefix(err.Error(), "gantry serve: "))
		return 1
	}
	addrs := rt.addrs()
	printStartup(stdout, c, addrs)
	if rt.ms != nil {
		fmt.Fprintf(stdout, "gantry %s: metrics on http://%s/metrics\n", version, rt.ms.Addr())
	}
	if ready != nil && len(addrs) > 0 {
		ready(addrs)
	}
	return rt.run(ctx, from)
}
