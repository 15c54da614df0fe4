package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/canon"
	"github.com/gantry-proxy/gantry/proxy/h2"
	"github.com/gantry-proxy/gantry/proxy/listen"
	"github.com/gantry-proxy/gantry/proxy/upstream"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Proxy is a running (or ready) reverse proxy. Make one with New.
type Proxy struct {
	log      *slog.Logger
	access   *accessLog
	metrics  Metrics
	hooks    Hooks
	limits   Limits
	timeouts Timeouts
	connect  ConnectOptions
	filter   *listen.Filter
	owned    *ownedSet

	listeners []*listener
	router    *router
	upstreams *upstream.Transport
	// upstreamLog reports upstream failures at warn, a bounded number of
	// lines per server.
	upstreamLog *upstreamLog

	ctx    context.Context // cancelled by Close: aborts everything
	cancel context.CancelFunc
	warm   *h2.Workers // runs HTTP/2 streams on grown stacks

	mu        sync.Mutex
	lns       []net.Listener
	conns     map[*trackedConn]struct{}
	serving   bool
	shutdown  atomic.Bool
	draining  atomic.Bool    // listeners closing: accept errors are expected
	acceptWG  sync.WaitGroup // accept loops running
	connWG    sync.WaitGroup
	healthWG  sync.WaitGroup // health checks and DNS loops
	closeOnce sync.Once
}

// listener is a ListenerOptions compiled: its TLS server and HTTP/2 server.
type listener struct {
	name          string
	addr          string
	tlsServer     gantrytls.Server // nil on plaintext
	backend       string
	timeouts      Timeouts
	proxyProtocol *listen.ProxyProtocol // nil when off
	paths         canon.Policy
	h2            *h2.Server
	open          atomic.Int64
	reusePort     bool
	// verifies is true when client certificates are verified here: only
	// then does a client have an identity.
	verifies bool
	identity *mtls.Policy // nil: any verified client, or none
	forward  mtls.Forward
	// inspect has the ClientHello read before the handshake; sni judges
	// its server name (nil admits any).
	inspect bool
	sni     *listen.SNIPolicy
}

// New validates opts and compiles every TLS configuration once. Nothing
// listens until Listen or Serve; Close releases what New made even if the
// proxy never served.
func New(opts Options) (*Proxy, error) {
	if err := opts.Timeouts.validate(); err != nil {
		return nil, err
	}
	limits, err := opts.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		log:      opts.Logger,
		metrics:  opts.Metrics,
		hooks:    opts.Hooks,
		limits:   limits,
		timeouts: opts.Timeouts.over(DefaultTimeouts()),
		connect:  opts.Connect,
		conns:    make(map[*trackedConn]struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.metrics == nil {
		p.metrics = nopMetrics{}
	}
	if p.connect.Allow && len(p.connect.Ports) == 0 {
		p.connect.Ports = []int{443}
	}
	for _, port := range p.connect.Ports {
		if port <= 0 || port > 65535 {
			return nil, fmt.Errorf("proxy: connect port %d out of range", port)
		}
	}
	if err := opts.DNS.Validate(); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if p.filter, err = listen.NewFilter(opts.Filter, opts.Hooks.ConnectionFilter); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if p.owned, err = newOwnedSet(opts.Forwarding); err != nil {
		return nil, err
	}
	if p.access, err = newAccessLog(opts.AccessLog); err != nil {
		return nil, err
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.warm = h2.NewWorkers(p.ctx)
	p.upstreamLog = newUpstreamLog(p.log)

	p.upstreams = upstream.NewTransport(p.ctx, upstream.Settings{
		Timeouts:       p.timeouts.upstreamPart(),
		MaxHeaderBytes: p.limits.MaxHeaderBytes,
		OnAttemptError: func(group, addr string, attempt int, err error) {
			p.metrics.UpstreamError(group, addr, err)
			p.upstreamLog.failed(group, addr, attempt, err)
		},
		OnServerState: p.upstreamLog.state,
		DNS:           opts.DNS,
		OnResolve: func(ev upstream.ResolveEvent) {
			if m, ok := p.metrics.(DNSMetrics); ok {
				m.DNSResolution(ev.Group, ev.Result)
			}
			p.upstreamLog.resolved(ev)
		},
	})
	if p.router, err = newRouter(p.ctx, p.upstreams, opts.Upstreams, opts.Routes); err != nil {
		p.cancel() // stops the pool sweeper newRouter may have started
		p.closeCompiled()
		return nil, err
	}
	for i, lo := range opts.Listeners {
		l, err := p.compileListener(i, lo)
		if err != nil {
			p.cancel()
			p.closeCompiled()
			return nil, err
		}
		p.listeners = append(p.listeners, l)
	}
	return p, nil
}

func (p *Proxy) compileListener(i int, lo ListenerOptions) (*listener, error) {
	if err := lo.Timeouts.validate(); err != nil {
		return nil, fmt.Errorf("proxy: listener %d: %w", i, err)
	}
	l := &listener{name: lo.Name, addr: lo.Addr, timeouts: lo.Timeouts.over(p.timeouts), reusePort: lo.ReusePort, paths: lo.Paths}
	if l.name == "" {
		l.name = lo.Addr
	}
	if err := l.paths.Validate(); err != nil {
		return nil, fmt.Errorf("proxy: listener %q: %w", l.name, err)
	}
	pp, err := listen.NewProxyProtocol(lo.ProxyProtocol)
	if err != nil {
		return nil, fmt.Errorf("proxy: listener %q: %w", l.name, err)
	}
	l.proxyProtocol = pp
	if lo.TLS != nil {
		// Identity first: its rules run inside the handshake.
		if err := l.compileIdentity(lo.TLS); err != nil {
			return nil, fmt.Errorf("proxy: listener %q: %w", l.name, err)
		}
		srv, backend, err := compileListenerTLS(lo.TLS, l.timeouts.TLSHandshake, p.log.With("listener", l.name), l.identity.Authorize())
		if err != nil {
			return nil, fmt.Errorf("proxy: listener %q: %w", l.name, err)
		}
		l.tlsServer, l.backend = srv, backend
		if err := l.compileHello(lo.TLS, p.filter); err != nil {
			_ = srv.Close()
			return nil, fmt.Errorf("proxy: listener %q: %w", l.name, err)
		}
	}
	l.h2, err = h2.NewServer(h2.ServerOptions{
		MaxConcurrentStreams: p.limits.H2MaxConcurrentStreams,
		IdleTimeout:          l.timeouts.KeepaliveIdle,
		WriteTimeout:         l.timeouts.ResponseWrite,
		StreamIdle:           l.timeouts.H2StreamIdle,
		PrefaceTimeout:       l.timeouts.RequestHeader,
		MaxHeaderBytes:       p.limits.MaxHeaderBytes,
		MaxHeaderCount:       p.limits.MaxHeaderCount,
		CountError:           func(kind string) { p.log.Debug("http2 protocol error", "listener", l.name, "type", kind) },
		Workers:              p.warm,
		OnCalm: func(remote, reason string) {
			p.log.Warn("HTTP/2 client abuses the connection; closing it", "listener", l.name, "client", remote, "reason", reason)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: listener %q: %w", l.name, err)
	}
	return l, nil
}

// compileListenerTLS is the one place a listener's TLS server is built, so
// that a server which swaps its compiled configuration on reload can take
// its place. It returns the backend's name with it.
func compileListenerTLS(o *ListenerTLS, handshake time.Duration, log *slog.Logger, authorize func([][]*x509.Certificate) error) (gantrytls.Server, string, error) {
	b, err := gantrytls.Lookup(o.Backend)
	if err != nil {
		return nil, "", err
	}
	cfg := o.Config
	if len(cfg.ALPN) == 0 {
		cfg.ALPN = []string{"h2", "http/1.1"}
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = handshake
	}
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	if prev := cfg.Authorize; prev != nil && authorize != nil {
		// A check the caller set stays; the listener's rules come first.
		cfg.Authorize = func(chains [][]*x509.Certificate) error {
			if err := authorize(chains); err != nil {
				return err
			}
			return prev(chains)
		}
	} else if authorize != nil {
		cfg.Authorize = authorize
	}
	if len(o.Files.Certificates) == 0 {
		srv, err := b.NewServer(&cfg)
		if err != nil {
			return nil, "", err
		}
		return srv, b.Name(), nil
	}
	srv, err := certs.NewServer(b, cfg, o.Files)
	if err != nil {
		return nil, "", err
	}
	return srv, b.Name(), nil
}

func (p *Proxy) closeCompiled() {
	for _, l := range p.listeners {
		if l.tlsServer != nil {
			_ = l.tlsServer.Close()
		}
	}
	if p.upstreams != nil {
		p.upstreams.Close()
	}
}

// Listen binds every configured listener, so Addrs is known before Serve.
// Calling it again is a no-op.
func (p *Proxy) Listen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lns != nil {
		return nil
	}
	if len(p.listeners) == 0 {
		return errors.New("proxy: no listener configured")
	}
	lns := make([]net.Listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ln, err := listen.Bind(p.ctx, l.addr, l.reusePort)
		if err != nil {
			for _, done := range lns {
				_ = done.Close()
			}
			return fmt.Errorf("proxy: listen %s: %w", l.addr, err)
		}
		lns = append(lns, ln)
	}
	p.lns = lns
	return nil
}

// Addrs returns the bound address of each listener, in configuration order;
// nil before Listen or Serve.
func (p *Proxy) Addrs() []net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]net.Addr, len(p.lns))
	for i, ln := range p.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Listeners returns the bound listeners in configuration order (nil before
// Listen or Serve), e.g. to hand their file descriptors to a new process in
// a zero-downtime upgrade, which passes them to its own Serve.
func (p *Proxy) Listeners() []net.Listener {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]net.Listener(nil), p.lns...)
}

// ListenAndServe binds the listeners and serves until ctx is done, then
// shuts down gracefully within Timeouts.ShutdownGrace.
func (p *Proxy) ListenAndServe(ctx context.Context) error {
	if err := p.Listen(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), p.timeouts.ShutdownGrace)
		defer cancel()
		_ = p.Shutdown(sctx)
	})
	defer stop()
	return p.Serve(nil)
}

// Serve accepts on lns, which pair up with Options.Listeners by index (a
// caller that passes listeners, e.g. inherited in an upgrade, must pass one
// per configured listener). A nil lns serves what Listen bound. It blocks
// until Shutdown or Close and then returns ErrServerClosed, or returns the
// first fatal accept error.
func (p *Proxy) Serve(lns []net.Listener) error {
	p.mu.Lock()
	if p.serving {
		p.mu.Unlock()
		return errors.New("proxy: already serving")
	}
	if lns == nil {
		lns = p.lns
	}
	if len(lns) != len(p.listeners) || len(lns) == 0 {
		p.mu.Unlock()
		return fmt.Errorf("proxy: %d listeners given for %d configured", len(lns), len(p.listeners))
	}
	if p.shutdown.Load() {
		p.mu.Unlock()
		return ErrServerClosed
	}
	p.lns = lns
	p.serving = true
	p.mu.Unlock()

	p.router.start(&p.healthWG)
	errc := make(chan error, len(lns))
	p.acceptWG.Add(len(lns))
	for i, ln := range lns {
		go func() {
			defer p.acceptWG.Done()
			errc <- p.acceptLoop(p.listeners[i], ln)
		}()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil && !p.shutdown.Load() {
			first = err
			p.closeListeners()
		}
	}
	if first != nil {
		return first
	}
	return ErrServerClosed
}

func (p *Proxy) acceptLoop(l *listener, ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.shutdown.Load() || p.draining.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.log.Warn("accept failed; retrying", "listener", l.name, "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("proxy: accept on %s: %w", l.name, err)
		}
		backoff = 0
		if max := p.limits.MaxConns; max > 0 && l.open.Load() >= int64(max) {
			_ = c.Close()
			continue
		}
		key, ok := p.filter.Admit(c.RemoteAddr(), l.name)
		if !ok {
			_ = c.Close()
			continue
		}
		if l.proxyProtocol != nil && !l.proxyProtocol.Trusts(c.RemoteAddr()) {
			// Only the listed balancers may speak here: anyone else could
			// send a header naming any client.
			p.filter.Release(key)
			p.log.Debug("connection from a peer not trusted to send PROXY headers refused", "listener", l.name, "peer", c.RemoteAddr().String())
			_ = c.Close()
			continue
		}
		tc := &trackedConn{Conn: c}
		if !p.track(tc) {
			p.filter.Release(key)
			_ = c.Close()
			return nil
		}
		go func() {
			defer p.filter.Release(key)
			p.serveConn(l, tc)
		}()
	}
}

// track registers a connection; it refuses once shutdown began, so the
// wait group never grows while Shutdown waits on it.
func (p *Proxy) track(c *trackedConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	p.connWG.Add(1)
	return true
}

func (p *Proxy) untrack(c *trackedConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.connWG.Done()
}

func (p *Proxy) closeListeners() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ln := range p.lns {
		_ = ln.Close()
	}
}

// Shutdown stops accepting, sends HTTP/2 GOAWAY, closes idle keep-alive
// connections, and waits for in-flight requests until ctx is done; then it
// closes whatever is left. It returns ctx.Err() if it had to cut requests
// short.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.stopAccepting()
	p.mu.Lock()
	p.shutdown.Store(true)
	p.mu.Unlock()
	for _, l := range p.listeners {
		// GOAWAY on every HTTP/2 connection, which then closes once its
		// streams end.
		_ = l.h2.Shutdown(ctx)
	}
	p.closeIdle()

	done := make(chan struct{})
	go func() {
		p.connWG.Wait()
		close(done)
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			// HTTP/1.1 connections that finished a request become idle
			// later; close them as they do.
			p.closeIdle()
		case <-ctx.Done():
			err = ctx.Err()
			p.cancel() // aborts upstream exchanges too
			p.closeAll()
			<-done
			break wait
		}
	}
	p.closeOnce.Do(p.release)
	return err
}

// Close stops everything at once: listeners, connections, health checks.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.shutdown.Store(true)
	p.mu.Unlock()
	p.closeListeners()
	p.cancel() // aborts upstream exchanges too
	p.closeAll()
	p.connWG.Wait()
	p.closeOnce.Do(p.release)
	return nil
}

func (p *Proxy) release() {
	p.cancel()
	p.healthWG.Wait()
	p.closeCompiled()
}

func (p *Proxy) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if c.idle.Load() {
			_ = c.Close()
		}
	}
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// stopAccepting closes the listeners and waits until no accept loop is
// left, before shutdown refuses new connections: when a successor serves
// the same sockets (reload, upgrade), a connection this proxy accepted as
// it stopped is then served here, not dropped.
func (p *Proxy) stopAccepting() {
	p.draining.Store(true)
	p.closeListeners()
	p.acceptWG.Wait()
}

// trackedConn is an accepted connection with its keep-alive state, so
// Shutdown can close the idle ones without cutting a request.
type trackedConn struct {
	net.Conn
	// idle is true while an HTTP/1.1 connection waits for its next
	// request after the first: a connection still in its handshake or
	// before its first request is not idle, so a drain lets a client that
	// just connected have its answer.
	idle atomic.Bool
	// ja4 is the fingerprint of the connection's ClientHello, once read.
	ja4 string
}

// NetConn returns the connection underneath, which writes go straight to:
// a TLS backend may then treat them as kernel-buffered socket writes.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

type nopMetrics struct{}

func (nopMetrics) Handshake(string, string, uint16, uint16, time.Duration, error) {}
func (nopMetrics) ConnOpen(string, int)                                           {}
func (nopMetrics) Request(string, string, int, time.Duration)                     {}
func (nopMetrics) UpstreamError(string, string, error)                            {}
