package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/internal/metrics"
	"github.com/gantry-proxy/gantry/proxy"
	"github.com/gantry-proxy/gantry/proxy/listen"
)

// server is a serving gantry process: one generation of the proxy at a
// time, replaced whole by a reload, and handed to a new process by an
// upgrade. A generation is a proxy.Proxy compiled from one config, so a
// request is served by the old config or the new, never a mix: each
// connection stays with the generation that accepted it, and the old
// generation drains as a shutdown does while the new one accepts on
// duplicates of the same sockets (the kernel queue is shared, so no
// connection attempt meets a closed port).
type server struct {
	file           string // the config file; empty for the embedded demo
	stdout, stderr io.Writer
	log            *slog.Logger // process events: reloads, upgrades
	exe            string       // the binary an upgrade runs

	m   *metrics.Metrics // nil without metrics.address
	ops *metrics.Ops
	ms  *metricsServer
	ctl *controlServer
	pid *pidFile

	access *reopenFile // nil: the access log goes to stdout

	opMu sync.Mutex // one reload or upgrade at a time
	mu   sync.Mutex
	cur  *generation

	draining atomic.Bool
	// handedOver is closed when an upgrade's new process serves: this one
	// then drains and exits.
	handedOver chan struct{}
	fatal      chan error
}

// generation is one compiled config serving its listeners.
type generation struct {
	cfg  *config.Config
	p    *proxy.Proxy
	lns  []net.Listener // in config order
	done chan struct{}  // closed when Serve returned, with err set
	err  error
}

// inherited is a listening socket offered to a new generation, by the
// address the config that bound it wrote (e.g. ":443" or "127.0.0.1:0").
type inherited struct {
	addr string
	ln   net.Listener
}

// logWarnings logs what the config accepted but should not have had to,
// each warning placed as a config error is; none holds key material.
func logWarnings(log *slog.Logger, c *config.Config) {
	for _, w := range c.Warnings() {
		log.Warn("config accepted with a warning", "warning", w)
	}
}

// newRuntime builds the first generation from c, on the sockets an
// upgrading parent handed over (nil when starting fresh), binds the
// metrics and control sockets, and drops privileges. Nothing is served
// until run.
func newRuntime(c *config.Config, file string, from *handOff, stdout, stderr io.Writer) (*server, error) {
	rt := &server{
		file: file, stdout: stdout, stderr: stderr,
		handedOver: make(chan struct{}),
		fatal:      make(chan error, 1),
	}
	rt.log = config.NewLogger(c.Logging, stderr)
	logWarnings(rt.log, c)
	rt.exe, _ = os.Executable()
	var pool []inherited
	var metricsLn net.Listener
	if from != nil {
		pool, metricsLn = from.listeners, from.metrics
	}
	if p := c.AccessLogPath(); p != "" {
		f, err := openReopenable(p)
		if err != nil {
			return nil, fmt.Errorf("gantry serve: %w", err)
		}
		rt.access = f
	}
	if c.Metrics.Address != "" {
		rt.m = newMetrics()
		rt.ops = rt.m.Ops()
	}
	g, err := rt.build(c, pool)
	if err != nil {
		rt.close()
		return nil, err
	}
	rt.cur = g
	if rt.m != nil {
		// Bound with the listeners, before privileges are dropped.
		if metricsLn != nil && from.metricsAddr == c.Metrics.Address {
			rt.ms = newMetricsServer(metricsLn, rt.m)
		} else {
			if metricsLn != nil {
				_ = metricsLn.Close()
			}
			if rt.ms, err = listenMetrics(c.Metrics.Address, rt.m); err != nil {
				rt.close()
				return nil, fmt.Errorf("gantry serve: %w", err)
			}
		}
		rt.ms.health(rt.readiness)
	} else if metricsLn != nil {
		_ = metricsLn.Close()
	}
	if p := c.ControlSocketPath(); p != "" {
		id := c.Identity()
		if rt.ctl, err = listenControl(p, rt, from != nil, id.UID, id.GID); err != nil {
			rt.close()
			return nil, fmt.Errorf("gantry serve: %w", err)
		}
	}
	if err := dropPrivileges(c.Identity()); err != nil {
		rt.close()
		return nil, fmt.Errorf("gantry serve: %w", err)
	}
	if p := c.PIDFilePath(); p != "" {
		if rt.pid, err = writePIDFile(p); err != nil {
			rt.close()
			return nil, fmt.Errorf("gantry serve: %w", err)
		}
	}
	return rt, nil
}

// build compiles c into a generation whose listeners come from pool
// where the config address matches, and are bound otherwise. What it
// takes from pool is removed from it; the caller closes the rest.
func (rt *server) build(c *config.Config, pool []inherited) (*generation, error) {
	var access io.Writer = rt.stdout
	if rt.access != nil {
		access = rt.access
	}
	opts := c.Options(rt.stderr, access)
	if rt.m != nil {
		opts.Metrics = rt.m
	}
	if rt.ops != nil {
		countCRLFetches(&opts, rt.ops)
	}
	p, err := proxy.New(opts)
	if err != nil {
		return nil, fmt.Errorf("gantry serve: %w", err)
	}
	g := &generation{cfg: c, p: p, done: make(chan struct{})}
	for _, l := range c.Listeners {
		ln := takeInherited(&pool, l.Addr)
		if ln == nil {
			if ln, err = listen.Bind(context.Background(), l.Addr, l.ReusePort); err != nil {
				g.closeListeners()
				_ = p.Close()
				return nil, fmt.Errorf("gantry serve: listen %s: %w", l.Addr, err)
			}
		}
		g.lns = append(g.lns, ln)
	}
	for _, in := range pool {
		_ = in.ln.Close()
	}
	if rt.ops != nil {
		rt.ops.SetCertificates(loadedCertificates(p))
	}
	return g, nil
}

func takeInherited(pool *[]inherited, addr string) net.Listener {
	for i, in := range *pool {
		if in.addr == addr {
			*pool = append((*pool)[:i], (*pool)[i+1:]...)
			return in.ln
		}
	}
	return nil
}

func (g *generation) closeListeners() {
	for _, ln := range g.lns {
		_ = ln.Close()
	}
}

func (g *generation) serve() {
	go func() {
		g.err = g.p.Serve(g.lns)
		close(g.done)
	}()
}

// dupListeners are duplicates of g's sockets for a successor: closing
// g's copies when it drains leaves them open.
func (g *generation) dupListeners() ([]inherited, error) {
	out := make([]inherited, 0, len(g.lns))
	for i, ln := range g.lns {
		d, err := dupListener(ln)
		if err != nil {
			for _, in := range out {
				_ = in.ln.Close()
			}
			return nil, err
		}
		out = append(out, inherited{addr: g.cfg.Listeners[i].Addr, ln: d})
	}
	return out, nil
}

func dupListener(ln net.Listener) (net.Listener, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("listener %s is %T, not TCP", ln.Addr(), ln)
	}
	f, err := tl.File()
	if err != nil {
		return nil, fmt.Errorf("duplicate listener %s: %w", ln.Addr(), err)
	}
	defer f.Close()
	return net.FileListener(f)
}

// drain shuts g down within its grace period, in the background when a
// successor is serving.
func (g *generation) drain() error {
	grace := g.cfg.Server.Timeouts.ShutdownGrace
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := g.p.Shutdown(ctx)
	<-g.done
	if g.err != nil && !errors.Is(g.err, proxy.ErrServerClosed) && err == nil {
		err = g.err
	}
	return err
}

// current is the generation serving now.
func (rt *server) current() *generation {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.cur
}

// Addrs are the current generation's bound addresses.
func (rt *server) addrs() []net.Addr {
	g := rt.current()
	out := make([]net.Addr, len(g.lns))
	for i, ln := range g.lns {
		out[i] = ln.Addr()
	}
	return out
}

// readiness is what /readyz reports: not ready while draining.
func (rt *server) readiness() error {
	if rt.draining.Load() {
		return errors.New("draining")
	}
	if rt.current() == nil {
		return errors.New("no config loaded")
	}
	return nil
}

// run serves until SIGINT or SIGTERM (ctx), or until an upgrade handed
// over, then drains. SIGHUP reloads, SIGUSR1 reopens the access log,
// SIGUSR2 upgrades.
func (rt *server) run(ctx context.Context, from *handOff) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	g := rt.current()
	g.serve()
	go rt.watch(g)
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go rt.watchCertificates(watchCtx)
	if rt.ctl != nil {
		rt.ctl.serve()
	}
	if rt.ms != nil {
		rt.ms.serve(rt.stderr)
	}
	from.ready() // the old process of an upgrade now drains
	notifySystemd("READY=1\nMAINPID=" + fmt.Sprint(os.Getpid()))
	for {
		select {
		case <-ctx.Done():
			// A second SIGINT or SIGTERM now kills the process the
			// default way.
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
			return rt.stop("signal")
		case <-rt.handedOver:
			return rt.stop("upgrade")
		case err := <-rt.fatal:
			fmt.Fprintf(rt.stderr, "gantry serve: %v\n", err)
			rt.close()
			return 1
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				_ = rt.reload()
			case syscall.SIGUSR1:
				rt.reopenLogs()
			case syscall.SIGUSR2:
				_ = rt.upgrade()
			}
		}
	}
}

// watch reports a generation whose Serve failed while it was current.
func (rt *server) watch(g *generation) {
	<-g.done
	err := g.err
	if rt.current() == g && !rt.draining.Load() && err != nil && !errors.Is(err, proxy.ErrServerClosed) {
		select {
		case rt.fatal <- err:
		default:
		}
	}
}

// stop drains the current generation and releases the process's sockets.
func (rt *server) stop(why string) int {
	rt.opMu.Lock() // no reload or upgrade starts now
	defer rt.opMu.Unlock()
	rt.draining.Store(true)
	g := rt.current()
	notifySystemd("STOPPING=1")
	if why == "upgrade" && rt.ms != nil {
		// The successor serves the metrics socket too: let every scrape
		// and health check reach it, not a process on its way out.
		rt.ms.shutdown()
		rt.ms = nil
	}
	if rt.ctl != nil {
		rt.ctl.close()
	}
	fmt.Fprintf(rt.stderr, "gantry serve: shutting down after %s (grace %s)\n", why, g.cfg.Server.Timeouts.ShutdownGrace)
	if err := g.drain(); err != nil {
		// Requests cut short at the end of the grace period are expected
		// on a deadline; the shutdown itself still succeeded.
		fmt.Fprintf(rt.stderr, "gantry serve: shutdown: %v\n", err)
	}
	rt.close()
	return 0
}

// close releases what the process owns besides the generations.
func (rt *server) close() {
	if rt.ms != nil {
		rt.ms.shutdown()
	}
	if rt.ctl != nil {
		rt.ctl.close()
	}
	if rt.pid != nil {
		rt.pid.remove()
	}
	if g := rt.current(); g != nil && !rt.draining.Load() {
		_ = g.p.Close()
		g.closeListeners()
	}
	if rt.access != nil {
		_ = rt.access.Close()
	}
}

// reload loads the config file again and, when it is valid, replaces the
// current generation with one compiled from it. An invalid file keeps the
// old generation; every error is logged with its file, line and key.
func (rt *server) reload() error {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	err := rt.reloadLocked()
	if rt.ops != nil {
		rt.ops.Reload(err)
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			rt.log.Error("reload failed; the running config is kept", "error", line)
		}
		return err
	}
	rt.log.Info("reload: new config serving", "file", rt.file)
	return nil
}

func (rt *server) reloadLocked() error {
	if rt.draining.Load() {
		return errors.New("reload: the process is draining")
	}
	if rt.file == "" {
		return errors.New("reload: the embedded default config cannot be reloaded; serve a file with -c")
	}
	c, err := config.Load(rt.file)
	if err != nil {
		return err
	}
	logWarnings(rt.log, c)
	old := rt.current()
	for _, w := range processChanges(old.cfg, c) {
		rt.log.Warn("reload: process setting changed; it takes effect at the next upgrade or restart", "key", w)
	}
	pool, err := old.dupListeners()
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	next, err := rt.build(c, pool)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	next.serve()
	rt.mu.Lock()
	rt.cur = next
	rt.mu.Unlock()
	go rt.watch(next)
	go func() {
		if err := old.drain(); err != nil {
			rt.log.Warn("reload: previous config's connections cut at the end of the grace period", "error", err)
		}
	}()
	return nil
}

// processChanges lists the keys a reload cannot apply: sockets and files
// the process opened once, and the identity it already dropped to.
func processChanges(a, b *config.Config) []string {
	var out []string
	check := func(key string, x, y string) {
		if x != y {
			out = append(out, key)
		}
	}
	check("server.user", a.Server.User, b.Server.User)
	check("server.group", a.Server.Group, b.Server.Group)
	check("server.pid_file", a.PIDFilePath(), b.PIDFilePath())
	check("server.control_socket", a.ControlSocketPath(), b.ControlSocketPath())
	check("metrics.address", a.Metrics.Address, b.Metrics.Address)
	check("logging.access_log_file", a.AccessLogPath(), b.AccessLogPath())
	return out
}

func (rt *server) reopenLogs() {
	if rt.access == nil {
		return
	}
	if err := rt.access.Reopen(); err != nil {
		rt.log.Error("reopen access log", "error", err)
		return
	}
	rt.log.Info("access log reopened", "file", rt.access.path)
}

// countCRLFetches points every listener's CRL fetcher at
// gantry_crl_fetch_total. Each listener gets its own copy of its TLS
// options, so the loaded config is left as it was.
func countCRLFetches(opts *proxy.Options, ops *metrics.Ops) {
	for i := range opts.Listeners {
		t := opts.Listeners[i].TLS
		if t == nil || !t.Files.ClientAuth.CRLFetch.Enabled {
			continue
		}
		withCount := *t
		withCount.Files.ClientAuth.CRLFetch.OnFetch = ops.CRLFetch
		opts.Listeners[i].TLS = &withCount
	}
}
