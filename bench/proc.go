package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RaiseNofile lifts the soft open-files limit to the hard one: the idle
// memory test holds 10,000 connections in each of two processes, more than
// the usual soft limit of 1024. Children inherit the raised limit.
func RaiseNofile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: read open-files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: raise open-files limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// child is a process this package started; it is always stopped and reaped
// by stop, because PID 1 on the benchmark machine does not reap orphans.
type child struct {
	name string
	cmd  *exec.Cmd
	rd   *os.File      // read end of stdout
	in   *os.File      // write end of stdin: the child sees EOF when stop closes it
	out  *bufio.Reader // stdout, for ready lines and results
	errb *tailBuffer   // last bytes of stderr, for error messages
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// startChild runs argv pinned to cpus (taskset) in its own process group.
func startChild(name, cpus string, argv ...string) (*child, error) {
	args := argv
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, argv...)
	}
	cmd := exec.Command(args[0], args[1:]...) // #nosec G204 -- this binary or a server found on PATH, with arguments built here
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// nginx workers inherit stderr; if one outlived its master, Wait would
	// otherwise block on the stderr copy forever.
	cmd.WaitDelay = 5 * time.Second
	// An os.Pipe rather than StdoutPipe: Wait closes StdoutPipe's read end
	// as soon as the process exits, which would lose a result line printed
	// just before exiting.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %s stdout: %w", name, err)
	}
	cmd.Stdout = w
	// stdin stays open until stop: the idle load generator holds its
	// connections until it reads EOF there.
	inR, inW, err := os.Pipe()
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("bench: %s stdin: %w", name, err)
	}
	cmd.Stdin = inR
	tb := &tailBuffer{max: 4096}
	cmd.Stderr = tb
	err = cmd.Start()
	_ = w.Close()
	_ = inR.Close()
	if err != nil {
		_ = r.Close()
		_ = inW.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, rd: r, in: inW, out: bufio.NewReaderSize(r, 64<<10), errb: tb, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// drain keeps reading stdout into the stderr tail from now on, so a child
// whose output nobody reads (a proxy that logs to stdout) never blocks on a
// full pipe. Call it only when no readLine is pending.
func (c *child) drain() {
	go func() { _, _ = io.Copy(c.errb, c.out) }()
}

// pid is the process id; taskset execs the command, so it is the measured
// program's own pid.
func (c *child) pid() int { return c.cmd.Process.Pid }

// readLine returns the next stdout line, or an error naming the process and
// its last stderr output when it exits or timeout passes first.
func (c *child) readLine(timeout time.Duration) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := c.out.ReadString('\n')
		ch <- res{strings.TrimRight(l, "\r\n"), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			<-c.exited(2 * time.Second)
			return "", fmt.Errorf("bench: %s ended early (%v): %s", c.name, c.exitErr(), c.errb.String())
		}
		return r.line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("bench: %s gave no answer within %s: %s", c.name, timeout, c.errb.String())
	}
}

func (c *child) exited(timeout time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-c.done:
		case <-time.After(timeout):
		}
		close(ch)
	}()
	return ch
}

func (c *child) exitErr() error {
	select {
	case <-c.done:
		if c.err == nil {
			return errors.New("exit status 0")
		}
		return c.err
	default:
		return errors.New("still running")
	}
}

// alive reports whether the process has not exited.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process (not its group).
func (c *child) signal(sig syscall.Signal) error {
	if !c.alive() {
		return fmt.Errorf("bench: %s is not running", c.name)
	}
	return c.cmd.Process.Signal(sig)
}

// stop sends SIGTERM to the process group, then SIGKILL after a grace
// period, and waits until the process is reaped.
func (c *child) stop() {
	if c == nil {
		return
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
	_ = c.rd.Close()
	_ = c.in.Close()
}

// runTool runs a load tool to completion pinned to cpus and returns its
// stdout; ctx bounds it.
func runTool(ctx context.Context, cpus string, argv ...string) (string, time.Duration, error) {
	args := append([]string{"taskset", "-c", cpus}, argv...)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...) // #nosec G204 -- this binary or a load tool, with arguments built here
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	errb := &tailBuffer{max: 2048}
	cmd.Stdout = &out
	cmd.Stderr = errb
	err := cmd.Run()
	var used time.Duration
	if cmd.ProcessState != nil {
		used = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return out.String(), used, fmt.Errorf("bench: %s: %w: %s", filepath.Base(argv[0]), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), used, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// cpuSample is a snapshot of /proc/stat jiffies per CPU.
// For each CPU: busy, total, and busy outside interrupt context. The last
// leaves out irq and softirq time, which no process is charged for (loopback
// TCP is mostly softirq), so that it is not mistaken for other processes.
type cpuSample map[int][3]uint64

func readCPU() cpuSample {
	out := cpuSample{}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		id, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		var v [8]uint64
		for i := range v {
			v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		}
		// user nice system idle iowait irq softirq steal
		busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		out[id] = [3]uint64{busy, busy + v[3] + v[4], v[0] + v[1] + v[2] + v[7]}
	}
	return out
}

// busyPct is the busy share of the given CPUs between two samples.
func busyPct(a, b cpuSample, cpus []int) float64 {
	var busy, total uint64
	for _, c := range cpus {
		busy += b[c][0] - a[c][0]
		total += b[c][1] - a[c][1]
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(busy) / float64(total)
}

// parseCPUList reads taskset's list syntax ("0", "0-1", "0,2").
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bench: bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bench: bad CPU list %q", s)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// rssKiB reads a process's resident set size.
func rssKiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: read memory of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				v, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return v, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("bench: no VmRSS for pid %d", pid)
}

// clockTicks is USER_HZ, the unit of /proc/stat and /proc/PID/stat times;
// it is 100 on every Linux architecture Gantry builds for.
const clockTicks = 100

// procStat reads a process's group id and user+system CPU time in clock
// ticks; ok is false when it is gone.
func procStat(pid int) (pgrp int, ticks uint64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name may contain spaces; fields are counted after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return pgrp, ut + st, true
}

// procTicks is the CPU time of one process in clock ticks, 0 when it is
// gone.
func procTicks(pid int) uint64 {
	_, t, _ := procStat(pid)
	return t
}

// groupTicks is the CPU time of every live process in the given process
// groups (our children lead their own groups; nginx's workers are in their
// master's), plus this process.
func groupTicks(pgids []int) uint64 {
	total := procTicks(os.Getpid())
	if len(pgids) == 0 {
		return total
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, t, ok := procStat(pid); ok && slices.Contains(pgids, g) {
			total += t
		}
	}
	return total
}

// ticksDuration converts clock ticks to a duration.
func ticksDuration(ticks uint64) time.Duration {
	return time.Duration(float64(ticks) / clockTicks * float64(time.Second))
}

// cpuUse is what the CPUs did during one measurement, in percent of one
// core: the server CPUs, the load CPUs, and processes that are not ours
// anywhere on the machine (the machine is shared).
type cpuUse struct {
	Server, Load, Foreign float64
	// Subject is the CPU the process under test used, in cores (CPU
	// seconds per second of the measurement): the server, proxy or, for
	// client-side rows, the client. Unlike Server it stays true when load
	// and subject share CPUs, so it gives the CPU time per operation.
	Subject float64
}

func (u cpuUse) String() string {
	return fmt.Sprintf("cpu server %.0f%%, load %.0f%%, others %.0f%%", u.Server, u.Load, u.Foreign)
}

// meter watches the CPUs during one measurement.
type meter struct {
	cpu     cpuSample
	own     uint64
	subject uint64 // ticks of the first group: the process under test
	start   time.Time
	pgids   []int
}

// startMeter starts a measurement in which the process groups pgids (the
// server, proxy or origin children) and this process count as ours.
func startMeter(pgids ...int) *meter {
	m := &meter{cpu: readCPU(), own: groupTicks(pgids), pgids: pgids, start: time.Now()}
	if len(pgids) > 0 {
		m.subject = groupTicks(pgids[:1]) - procTicks(os.Getpid())
	}
	return m
}

// stop ends the measurement; tool is the CPU time of the load tool that ran
// to completion during it, which /proc no longer shows once it is reaped.
func (m *meter) stop(serverCPUs, loadCPUs []int, tool time.Duration) cpuUse {
	after := readCPU()
	own := groupTicks(m.pgids)
	var busy, total uint64
	for id, v := range after {
		busy += v[2] - m.cpu[id][2]
		total += v[1] - m.cpu[id][1]
	}
	use := cpuUse{Server: busyPct(m.cpu, after, serverCPUs), Load: busyPct(m.cpu, after, loadCPUs)}
	if wall := time.Since(m.start).Seconds(); wall > 0 && len(m.pgids) > 0 {
		subject := groupTicks(m.pgids[:1]) - procTicks(os.Getpid())
		use.Subject = float64(subject-min(subject, m.subject)) / clockTicks / wall
	}
	if total > 0 && len(after) > 0 {
		ours := float64(own-m.own) + tool.Seconds()*clockTicks
		perCPU := float64(total) / float64(len(after))
		use.Foreign = max(0, (float64(busy)-ours)/perCPU*100)
	}
	return use
}

// machineBusy is the busy share of all CPUs over d, in percent of one core.
func machineBusy(d time.Duration) float64 {
	a := readCPU()
	time.Sleep(d)
	b := readCPU()
	var busy, total uint64
	for id, v := range b {
		busy += v[0] - a[id][0]
		total += v[1] - a[id][1]
	}
	if total == 0 || len(b) == 0 {
		return 0
	}
	return float64(busy) / (float64(total) / float64(len(b))) * 100
}
