package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

// Workload groups that --only may select.
const (
	WorkHandshake = "handshake"
	WorkBulk      = "bulk"
	WorkIdle      = "idle"
	WorkHTTP      = "http"
)

// Options are `gantry bench`'s settings.
type Options struct {
	Runs     int
	Backends []string // empty: every compiled-in backend
	Compare  []string // "nginx", "haproxy"
	Out      string
	Only     []string // workload groups; empty: all

	HandshakeDur time.Duration
	BulkDur      time.Duration
	HTTPDur      time.Duration
	Warmup       time.Duration
	HSConns      int
	BulkConns    int
	IdleConns    int

	ServerCPUs string // taskset list for servers and proxies
	LoadCPUs   string // taskset list for load generators and the origin
	// CPUCounts sweeps the number of CPUs the subject runs on (--cpus
	// 1,2); each count is a whole pass over the workloads, with the CPU
	// lists derived by splitCPUs. Empty: one pass on ServerCPUs/LoadCPUs.
	CPUCounts []int

	// Self is this binary, run as the server, load and origin children and
	// as `gantry serve`.
	Self     string
	Progress io.Writer
}

// DefaultOptions are sized so that `make bench` (two binaries, three
// backends, nginx and HAProxy) stays well under 15 minutes on 2 cores.
func DefaultOptions() Options {
	return Options{
		Runs:         3,
		HandshakeDur: 2 * time.Second,
		BulkDur:      2 * time.Second,
		HTTPDur:      3 * time.Second,
		Warmup:       300 * time.Millisecond,
		HSConns:      16,
		BulkConns:    4,
		IdleConns:    10000,
		ServerCPUs:   "0",
		LoadCPUs:     "1",
		Out:          "bench-out",
	}
}

type bencher struct {
	opt        Options
	rep        *Report
	work       string
	ecdsa, rsa certFiles
	originPort int
	originPid  int
	quietWait  time.Duration
	serverCPUs []int
	loadCPUs   []int
	cpus       int // CPUs of the subject in this pass: the rows' @Ncpu suffix
	workers    int // nginx workers and HAProxy threads in this pass
}

// id is metric's ID for the current pass.
func (b *bencher) id(metric string) string { return AtCPUs(metric, b.cpus) }

// pass is one CPU configuration of a --cpus sweep.
type pass struct {
	cpus             int
	server, load     string
	serverL, loadL   []int
	workers, threads int
}

// cpuPasses derives the passes. A subject on n CPUs of an m-CPU machine
// gets CPUs 0..n-1 and the load the rest; with none left (n = m, as with 2
// on this 2-core machine) load and subject share all CPUs, as the anchors
// harness does when its --proxy-cpus and --load-cpus overlap. Go programs
// size GOMAXPROCS from their affinity, so taskset alone sets it; nginx
// workers and HAProxy threads are set to n.
func cpuPasses(opt Options, machine int) ([]pass, error) {
	if len(opt.CPUCounts) == 0 {
		sl, err := parseCPUList(opt.ServerCPUs)
		if err != nil {
			return nil, err
		}
		ll, err := parseCPUList(opt.LoadCPUs)
		if err != nil {
			return nil, err
		}
		return []pass{{cpus: len(sl), server: opt.ServerCPUs, load: opt.LoadCPUs, serverL: sl, loadL: ll, workers: len(sl), threads: len(sl)}}, nil
	}
	var out []pass
	for _, n := range opt.CPUCounts {
		if n < 1 || n > machine {
			return nil, fmt.Errorf("bench: --cpus %d: this machine has %d CPUs", n, machine)
		}
		ps := pass{cpus: n, workers: n, threads: n, server: cpuRange(0, n-1)}
		if n < machine {
			ps.load = cpuRange(n, machine-1)
		} else {
			ps.load = ps.server
		}
		ps.serverL, _ = parseCPUList(ps.server)
		ps.loadL, _ = parseCPUList(ps.load)
		out = append(out, ps)
	}
	return out, nil
}

func cpuRange(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func (ps pass) String() string {
	if ps.server == ps.load {
		return fmt.Sprintf("%d CPUs: subject and load generator + origin share CPUs %s", ps.cpus, ps.server)
	}
	return fmt.Sprintf("%d CPU: subject on CPU %s, load generator + origin on CPU %s", ps.cpus, ps.server, ps.load)
}

func (b *bencher) want(group string) bool {
	return len(b.opt.Only) == 0 || slices.Contains(b.opt.Only, group)
}

func (b *bencher) logf(format string, args ...any) {
	if b.opt.Progress != nil {
		fmt.Fprintf(b.opt.Progress, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

// Run measures every selected backend opt.Runs times and writes
// results.json, table.md and chart.svg into opt.Out.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Runs < 1 {
		return nil, errors.New("bench: --runs must be at least 1")
	}
	if opt.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: find own binary: %w", err)
		}
		opt.Self = self
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return nil, errors.New("bench: taskset is needed to pin server and load to their CPUs (apt-get install util-linux)")
	}
	b := &bencher{opt: opt}
	passes, err := cpuPasses(opt, runtime.NumCPU())
	if err != nil {
		return nil, err
	}
	limit, err := RaiseNofile()
	if err != nil {
		return nil, err
	}
	// Each side holds one descriptor per idle connection, plus a few.
	if float64(limit) < float64(opt.IdleConns)+256 && b.want(WorkIdle) {
		b.opt.IdleConns = max(int(min(limit, 1<<20))-256, 0)
		b.logf("open-files limit %d: idle test uses %d connections", limit, b.opt.IdleConns)
	}

	backends, err := selectBackends(opt.Backends)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.Out, 0o750); err != nil {
		return nil, fmt.Errorf("bench: create %s: %w", opt.Out, err)
	}
	if b.work, err = os.MkdirTemp("", "gantry-bench-"); err != nil {
		return nil, fmt.Errorf("bench: work directory: %w", err)
	}
	defer os.RemoveAll(b.work)
	// nginx workers drop to an unprivileged user and must read the origin's
	// files; the private keys inside stay 0600 (only masters read them).
	if err := os.Chmod(b.work, 0o755); err != nil { // #nosec G302 -- nginx workers must traverse it; keys inside are 0600
		return nil, fmt.Errorf("bench: work directory: %w", err)
	}
	if b.ecdsa, b.rsa, err = makeCerts(b.work); err != nil {
		return nil, err
	}

	b.rep = &Report{
		Schema:   SchemaVersion,
		Started:  time.Now().UTC().Format(time.RFC3339),
		Host:     hostDescription(),
		Go:       runtime.Version(),
		CPUSplit: describePasses(passes),
		Runs:     opt.Runs,
		Settings: map[string]string{
			"handshakes": fmt.Sprintf("Go crypto/tls client, X25519, %d workers, %s window after %s warm-up; one request of %d B per connection", opt.HSConns, opt.HandshakeDur, opt.Warmup, replySize),
			"bulk":       fmt.Sprintf("TLS 1.3, ECDSA, %d connections reading a server stream of 16 KiB writes for %s", opt.BulkConns, opt.BulkDur),
			"idle":       fmt.Sprintf("%d TLS 1.3 connections (ECDSA) held open; server RSS after GC, fresh server process", opt.IdleConns),
			"h1":         fmt.Sprintf("wrk -t1 -c50 -d%ds --latency, 1 KiB responses", httpSecs(opt.HTTPDur)),
			"h2":         fmt.Sprintf("h2load -t1 -c10 -m10 -D %d --warm-up-time 1, 1 KiB responses", httpSecs(opt.HTTPDur)),
		},
	}
	for _, bk := range backends {
		b.rep.Backends = append(b.rep.Backends, BackendInfo{Name: bk.Name(), Library: bk.Library(), Binary: filepath.Base(opt.Self)})
		b.rep.addSubject(bk.Name())
	}
	b.logf("gantry bench: backends %s; %d runs; %s", strings.Join(names(backends), ", "), opt.Runs, b.rep.CPUSplit)

	if b.want(WorkHTTP) {
		var tools []string
		for _, t := range [][]string{{"wrk", "-v"}, {"h2load", "--version"}, {"nginx", "-v"}, {"haproxy", "-v"}} {
			if _, err := exec.LookPath(t[0]); err == nil {
				tools = append(tools, toolVersion(t[0], t[1:]...))
			}
		}
		b.rep.Settings["tools"] = strings.Join(tools, "; ")
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		b.rep.Settings["openssl_cli"] = toolVersion("openssl", "version")
	}
	for _, ps := range passes {
		if err := b.pass(ctx, ps, backends); err != nil {
			return b.rep, err
		}
	}
	if b.quietWait > 0 {
		b.rep.Settings["quiet_wait"] = fmt.Sprintf("waited %s in all for other processes to go quiet before measuring", b.quietWait.Round(time.Second))
	}
	return b.rep, nil
}

func describePasses(passes []pass) string {
	parts := make([]string, len(passes))
	for i, ps := range passes {
		parts[i] = ps.String()
	}
	return strings.Join(parts, "; ") + " (taskset)"
}

// pass measures every workload with the subject on ps.cpus CPUs, the
// origin restarted on this pass's load CPUs.
func (b *bencher) pass(ctx context.Context, ps pass, backends []tls.Backend) error {
	b.cpus, b.opt.ServerCPUs, b.opt.LoadCPUs = ps.cpus, ps.server, ps.load
	b.serverCPUs, b.loadCPUs = ps.serverL, ps.loadL
	b.workers = ps.workers
	b.logf("pass: %s", ps)

	var origin *child
	if b.want(WorkHTTP) {
		var kind string
		var err error
		origin, b.originPort, kind, err = b.startOrigin()
		if err != nil {
			b.logf("origin failed: %v; proxied rows are skipped", err)
			b.rep.AddNote("proxied rows skipped: " + err.Error())
		} else {
			b.originPid = origin.pid()
			b.rep.Settings["origin"] = fmt.Sprintf("%s, plain HTTP/1.1 keep-alive on the load CPUs", kind)
			defer origin.stop()
		}
	}

	for run := 1; run <= b.opt.Runs; run++ {
		// Rotate the order so no backend always goes first.
		order := slices.Concat(backends[(run-1)%len(backends):], backends[:(run-1)%len(backends)])
		for _, bk := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.backendRun(ctx, run, bk.Name())
		}
		if origin != nil {
			var targets []proxyTarget
			for _, bk := range order {
				targets = append(targets, b.gantryTarget(bk.Name()))
			}
			for _, c := range b.opt.Compare {
				switch c {
				case "nginx":
					targets = append(targets, b.nginxTarget())
				case "haproxy":
					targets = append(targets, b.haproxyTarget())
				}
			}
			for _, t := range targets {
				if err := ctx.Err(); err != nil {
					return err
				}
				b.proxiedRun(ctx, run, t)
			}
		}
	}
	return nil
}

// Waiting for quiet is bounded per measurement and per invocation, so a
// busy machine slows a run down by at most quietBudget.
const (
	quietPct     = 15 // % of one core used by anything, while our children idle
	quietPerTest = 5 * time.Second
	quietBudget  = 60 * time.Second
)

// waitQuiet holds the next measurement until the machine is idle: it is
// shared, and another process on the server or load CPU skews a figure.
func (b *bencher) waitQuiet() {
	start := time.Now()
	for b.quietWait < quietBudget && time.Since(start) < quietPerTest {
		if machineBusy(250*time.Millisecond) < quietPct {
			break
		}
	}
	if waited := time.Since(start); waited > 300*time.Millisecond {
		b.quietWait += waited
	}
}

func names(bs []tls.Backend) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name()
	}
	return out
}

func selectBackends(want []string) ([]tls.Backend, error) {
	if len(want) == 0 {
		bs := tls.Backends()
		if len(bs) == 0 {
			return nil, errors.New("bench: no TLS backend is compiled into this binary")
		}
		return bs, nil
	}
	var out []tls.Backend
	for _, n := range want {
		bk, err := tls.Lookup(n)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		out = append(out, bk)
	}
	return out, nil
}

func hostDescription() string {
	var u syscall.Utsname
	kernel := ""
	if syscall.Uname(&u) == nil {
		kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Machine[:])
	}
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s; %d CPUs; %s", kernel, runtime.NumCPU(), model)
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c <= 0 {
			break
		}
		out = append(out, uint8(c))
	}
	return string(out)
}

// startServer runs `gantry bench server` for backend on the server CPUs and
// returns it with its ECDSA and RSA addresses.
func (b *bencher) startServer(backend string) (*child, map[string]string, error) {
	return b.startServerOn(backend, b.opt.ServerCPUs)
}

// startServerOn is startServer on the given CPUs: the load CPUs for the
// fixed server of the client-side rows.
func (b *bencher) startServerOn(backend, cpus string) (*child, map[string]string, error) {
	c, err := startChild("bench server ("+backend+")", cpus, b.opt.Self, "bench", "server",
		"--backend", backend, "--ecdsa-cert", b.ecdsa.Cert, "--ecdsa-key", b.ecdsa.Key,
		"--rsa-cert", b.rsa.Cert, "--rsa-key", b.rsa.Key)
	if err != nil {
		return nil, nil, err
	}
	line, err := c.readLine(20 * time.Second)
	if err != nil {
		c.stop()
		return nil, nil, err
	}
	addrs := map[string]string{"ecdsa": fieldValue(line, "ecdsa"), "rsa": fieldValue(line, "rsa"), "hello": fieldValue(line, "hello")}
	if addrs["ecdsa"] == "" || addrs["rsa"] == "" || addrs["hello"] == "" {
		c.stop()
		return nil, nil, fmt.Errorf("bench: server said %q", line)
	}
	return c, addrs, nil
}

// runLoad runs `gantry bench load` on the load CPUs against the server
// process serverPid and returns its result with what the CPUs did.
func (b *bencher) runLoad(ctx context.Context, serverPid int, args ...string) (LoadResult, cpuUse, error) {
	b.waitQuiet()
	m := startMeter(serverPid)
	out, used, err := runTool(ctx, b.opt.LoadCPUs, append([]string{b.opt.Self, "bench", "load"}, args...)...)
	use := m.stop(b.serverCPUs, b.loadCPUs, used)
	if err != nil {
		return LoadResult{}, use, err
	}
	var res LoadResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		return LoadResult{}, use, fmt.Errorf("bench: load output %q: %w", out, err)
	}
	return res, use, nil
}

// runClientLoad runs `gantry bench load --client-backend` on the subject
// CPUs against the fixed server peerPid; the client is the subject, so its
// own CPU time is the Subject figure.
func (b *bencher) runClientLoad(ctx context.Context, peerPid int, args ...string) (LoadResult, cpuUse, error) {
	b.waitQuiet()
	m := startMeter(peerPid)
	start := time.Now()
	out, used, err := runTool(ctx, b.opt.ServerCPUs, append([]string{b.opt.Self, "bench", "load"}, args...)...)
	use := m.stop(b.serverCPUs, b.loadCPUs, used)
	if wall := time.Since(start).Seconds(); wall > 0 {
		use.Subject = used.Seconds() / wall
	}
	if err != nil {
		return LoadResult{}, use, err
	}
	var res LoadResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		return LoadResult{}, use, fmt.Errorf("bench: load output %q: %w", out, err)
	}
	return res, use, nil
}

// backendRun measures the handshake, bulk and idle workloads of one backend
// once.
func (b *bencher) backendRun(ctx context.Context, run int, backend string) {
	prefix := fmt.Sprintf("%d CPU run %d/%d %s", b.cpus, run, b.opt.Runs, backend)
	if b.want(WorkHandshake) || b.want(WorkBulk) {
		srv, addrs, err := b.startServer(backend)
		if err != nil {
			b.logf("%s: server failed: %v", prefix, err)
			for _, h := range handshakeCases {
				b.rep.AddError(b.id(h.id()), backend, err.Error())
			}
			b.rep.AddError(b.id(MetricBulk), backend, err.Error())
		} else {
			if b.want(WorkHandshake) {
				for _, h := range handshakeCases {
					b.handshakeRun(ctx, prefix, backend, h, srv.pid(), h.addr(addrs))
				}
			}
			if b.want(WorkBulk) {
				b.bulkRun(ctx, prefix, backend, srv.pid(), addrs["ecdsa"])
			}
			srv.stop()
		}
	}
	if b.want(WorkHandshake) {
		b.clientRuns(ctx, prefix, backend)
	}
	if b.want(WorkIdle) && b.opt.IdleConns > 0 {
		b.idleRun(ctx, prefix, backend)
	}
}

// clientRuns measures the client-side rows: the backend under test dials
// (on the subject CPUs, as the proxy dials a TLS upstream) a crypto/tls
// server on the load CPUs, which is the same for every backend.
func (b *bencher) clientRuns(ctx context.Context, prefix, backend string) {
	srv, addrs, err := b.startServerOn(ReferenceSubject, b.opt.LoadCPUs)
	if err != nil {
		b.logf("%s: client-side peer failed: %v", prefix, err)
		for _, h := range clientHandshakeCases {
			b.rep.AddError(b.id(h.clientID()), backend, err.Error())
		}
		return
	}
	defer srv.stop()
	for _, h := range clientHandshakeCases {
		if ctx.Err() != nil {
			return
		}
		b.handshakeCase(ctx, prefix, backend, h, h.clientID(), "client "+h.label(), srv.pid(), addrs[h.Cert], true)
	}
}

func (b *bencher) handshakeRun(ctx context.Context, prefix, backend string, h handshakeCase, pid int, addr string) {
	b.handshakeCase(ctx, prefix, backend, h, h.id(), h.label(), pid, addr, false)
}

// handshakeCase measures one handshake row: server side (the crypto/tls
// load against the backend's server, pid) or client side (the backend's
// client as the load, on the subject CPUs, against the server pid).
func (b *bencher) handshakeCase(ctx context.Context, prefix, backend string, h handshakeCase, metric, what string, pid int, addr string, client bool) {
	mode := "full"
	if h.Resume {
		mode = "resume"
	}
	args := []string{"--addr", addr, "--mode", mode, "--tls", h.Version,
		"--conns", fmt.Sprint(b.opt.HSConns), "--dur", b.opt.HandshakeDur.String(), "--warmup", b.opt.Warmup.String()}
	var (
		res LoadResult
		use cpuUse
		err error
	)
	if client {
		res, use, err = b.runClientLoad(ctx, pid, append(args, "--client-backend", backend)...)
	} else {
		res, use, err = b.runLoad(ctx, pid, args...)
	}
	label := prefix + " " + what
	if err != nil {
		b.logf("%s: %v", label, err)
		b.rep.AddError(b.id(metric), backend, err.Error())
		return
	}
	detail := fmt.Sprintf("full=%d resumed=%d errors=%d group=%s", res.Full, res.Resumed, res.Errors, res.Group)
	b.rep.AddDetail(b.id(metric), backend, detail)
	switch {
	case res.OK == 0 && res.FirstErr == "":
		err = fmt.Errorf("no connection completed within the %s window", b.opt.HandshakeDur)
	case res.OK == 0:
		err = fmt.Errorf("no connection succeeded: %s", res.FirstErr)
	case h.Resume && float64(res.Resumed) < 0.5*float64(res.OK):
		err = fmt.Errorf("server did not resume: %d of %d handshakes resumed", res.Resumed, res.OK)
	case !h.Resume && res.Resumed > 0:
		err = fmt.Errorf("%d handshakes resumed in a full-handshake test", res.Resumed)
	}
	if err != nil {
		b.logf("%s: %v", label, err)
		b.rep.AddError(b.id(metric), backend, err.Error())
		return
	}
	b.rep.AddSample(b.id(metric), backend, res.Rate, use)
	b.logf("%s: %.0f conn/s (%s; %s)", label, res.Rate, detail, use)
}

func (b *bencher) bulkRun(ctx context.Context, prefix, backend string, pid int, addr string) {
	res, use, err := b.runLoad(ctx, pid, "--addr", addr, "--mode", "bulk", "--tls", "1.3",
		"--conns", fmt.Sprint(b.opt.BulkConns), "--dur", b.opt.BulkDur.String(), "--warmup", b.opt.Warmup.String())
	if err == nil && res.Bytes == 0 {
		err = fmt.Errorf("no data received: %s", res.FirstErr)
	}
	if err != nil {
		b.logf("%s bulk: %v", prefix, err)
		b.rep.AddError(b.id(MetricBulk), backend, err.Error())
		return
	}
	b.rep.AddSample(b.id(MetricBulk), backend, res.MBps, use)
	b.logf("%s bulk: %.0f MB/s (%s)", prefix, res.MBps, use)
}

// idleRun measures memory per idle connection on a fresh server process, so
// that memory freed by earlier workloads (which C allocators keep) does not
// hide what the idle connections cost.
func (b *bencher) idleRun(ctx context.Context, prefix, backend string) {
	fail := func(err error) {
		b.logf("%s idle memory: %v", prefix, err)
		b.rep.AddError(b.id(MetricIdleMem), backend, err.Error())
	}
	srv, addrs, err := b.startServer(backend)
	if err != nil {
		fail(err)
		return
	}
	defer srv.stop()
	// A few handshakes first, so one-time set-up (tables, pools, the first
	// goroutine stacks) is in the baseline and not charged to connections.
	if _, _, err := b.runLoad(ctx, srv.pid(), "--addr", addrs["ecdsa"], "--mode", "full", "--conns", "2", "--dur", "100ms", "--warmup", "0s"); err != nil {
		fail(err)
		return
	}
	before, err := b.settledRSS(srv)
	if err != nil {
		fail(err)
		return
	}
	b.waitQuiet()
	m := startMeter(srv.pid())
	load, err := startChild("idle load", b.opt.LoadCPUs, b.opt.Self, "bench", "load", "--addr", addrs["ecdsa"],
		"--mode", "idle", "--tls", "1.3", "--idle", fmt.Sprint(b.opt.IdleConns), "--conns", fmt.Sprint(b.opt.HSConns))
	if err != nil {
		fail(err)
		return
	}
	defer load.stop()
	line, err := load.readLine(time.Duration(b.opt.IdleConns)*time.Millisecond + 60*time.Second)
	if err != nil {
		fail(err)
		return
	}
	use := m.stop(b.serverCPUs, b.loadCPUs, ticksDuration(procTicks(load.pid())))
	var res LoadResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		fail(fmt.Errorf("load output %q: %w", line, err))
		return
	}
	if res.OK < int64(b.opt.IdleConns)*9/10 {
		fail(fmt.Errorf("only %d of %d idle connections opened: %s", res.OK, b.opt.IdleConns, res.FirstErr))
		return
	}
	after, err := b.settledRSS(srv)
	if err != nil {
		fail(err)
		return
	}
	if !load.alive() {
		// Its connections closed before the reading: the figure would be
		// meaningless.
		fail(fmt.Errorf("idle load generator exited before the memory reading: %s", load.errb.String()))
		return
	}
	perConn := (after - before) / float64(res.OK)
	b.rep.AddSample(b.id(MetricIdleMem), backend, perConn, use)
	b.rep.AddDetail(b.id(MetricIdleMem), backend, fmt.Sprintf("rss %.0f -> %.0f KiB with %d connections", before, after, res.OK))
	b.logf("%s idle memory: %.1f KiB/conn (RSS %.1f -> %.1f MiB, %d conns)", prefix, perConn, before/1024, after/1024, res.OK)
}

// settledRSS asks the server to collect garbage and return free memory,
// then reads its RSS.
func (b *bencher) settledRSS(srv *child) (float64, error) {
	if err := srv.signal(syscall.SIGUSR1); err != nil {
		return 0, err
	}
	time.Sleep(500 * time.Millisecond)
	return rssKiB(srv.pid())
}

// proxiedRun measures h1 and h2 through one proxy once.
func (b *bencher) proxiedRun(ctx context.Context, run int, t proxyTarget) {
	prefix := fmt.Sprintf("%d CPU run %d/%d %s proxied", b.cpus, run, b.opt.Runs, t.subject)
	metrics := []string{MetricH1RPS, MetricH1P50, MetricH1P99, MetricH2RPS, MetricH2P50, MetricH2P99}
	fail := func(ms []string, err error) {
		b.logf("%s: %v", prefix, err)
		for _, m := range ms {
			b.rep.AddError(b.id(m), t.subject, err.Error())
		}
	}
	port, err := freePort()
	if err != nil {
		fail(metrics, err)
		return
	}
	p, err := t.start(port)
	if err != nil {
		fail(metrics, err)
		return
	}
	p.drain()
	defer p.stop()
	if err := waitHTTP(p, fmt.Sprintf("https://127.0.0.1:%d/", port), 15*time.Second); err != nil {
		fail(metrics, fmt.Errorf("proxy not available: %w", err))
		return
	}
	for _, proto := range []string{"h1", "h2"} {
		ms := metrics[:3]
		if proto == "h2" {
			ms = metrics[3:]
		}
		res, use, err := b.measureHTTP(ctx, proto, port, p.pid())
		if err != nil {
			fail(ms, err)
			continue
		}
		for i, v := range []float64{res.RPS, res.P50ms, res.P99ms} {
			if !math.IsNaN(v) {
				b.rep.AddSample(b.id(ms[i]), t.subject, v, use)
			}
		}
		b.logf("%s %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms (%s)", prefix, proto, res.RPS, res.P50ms, res.P99ms, use)
	}
}
