package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/proxy/listen"
)

func init() {
	register(command{Name: "upgrade", Summary: "replace the serving process with the binary on disk, refusing no connection (upgrade -c FILE)", Run: runUpgrade})
}

// upgradeFDEnv names the descriptor (a SOCK_SEQPACKET socket to the old
// process) a process started by an upgrade receives its sockets on.
const upgradeFDEnv = "GANTRY_UPGRADE_FD"

// upgradeTimeout bounds how long the old process waits for the new one to
// serve before it gives up on it and goes on serving.
const upgradeTimeout = time.Minute

// offer is the first message of a hand-off: which config address each
// socket that follows was bound for, so the new process can match them
// to its own config (where ":0" or a host name says nothing about the
// bound address).
type offer struct {
	Listeners []string `json:"listeners"`
	// Metrics is metrics.address when the last socket is the metrics one.
	Metrics string `json:"metrics,omitempty"`
}

// handOff is what a process started by an upgrade received.
type handOff struct {
	conn        *net.UnixConn
	listeners   []inherited
	metrics     net.Listener
	metricsAddr string
}

// inheritedHandOff receives the old process's sockets when this process
// was started by an upgrade; nil otherwise.
func inheritedHandOff() (*handOff, error) {
	v := os.Getenv(upgradeFDEnv)
	if v == "" {
		return nil, nil
	}
	_ = os.Unsetenv(upgradeFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("gantry serve: %s=%q is not a descriptor", upgradeFDEnv, v)
	}
	f := os.NewFile(uintptr(fd), "upgrade")
	fc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("gantry serve: upgrade socket: %w", err)
	}
	uc, ok := fc.(*net.UnixConn)
	if !ok {
		_ = fc.Close()
		return nil, fmt.Errorf("gantry serve: upgrade socket is %T", fc)
	}
	_ = uc.SetDeadline(time.Now().Add(upgradeTimeout))
	h := &handOff{conn: uc}
	buf := make([]byte, 64<<10)
	n, err := uc.Read(buf)
	if err != nil {
		return h, fmt.Errorf("gantry serve: upgrade: %w", err)
	}
	var o offer
	if err := json.Unmarshal(buf[:n], &o); err != nil {
		return h, fmt.Errorf("gantry serve: upgrade: offer: %w", err)
	}
	lns, err := listen.ReceiveListeners(uc)
	if err != nil {
		return h, fmt.Errorf("gantry serve: upgrade: %w", err)
	}
	want := len(o.Listeners)
	if o.Metrics != "" {
		want++
	}
	if len(lns) != want {
		for _, ln := range lns {
			_ = ln.Close()
		}
		return h, fmt.Errorf("gantry serve: upgrade: %d sockets for an offer of %d", len(lns), want)
	}
	for i, addr := range o.Listeners {
		h.listeners = append(h.listeners, inherited{addr: addr, ln: lns[i]})
	}
	if o.Metrics != "" {
		h.metrics, h.metricsAddr = lns[len(lns)-1], o.Metrics
	}
	return h, nil
}

// fail tells the old process why this one will not serve; it goes on.
func (h *handOff) fail(err error) {
	if h == nil {
		return
	}
	_, _ = h.conn.Write([]byte("error: " + err.Error()))
	for _, in := range h.listeners {
		_ = in.ln.Close()
	}
	if h.metrics != nil {
		_ = h.metrics.Close()
	}
	_ = h.conn.Close()
}

// ready tells the old process this one serves, so it stops and drains.
func (h *handOff) ready() {
	if h == nil {
		return
	}
	_, _ = h.conn.Write([]byte("ready"))
	_ = h.conn.Close()
}

// upgrade starts the binary at the path this one was started from (where
// a package upgrade put the new version) with the same config file, hands
// it every listening socket, and once it says it serves, makes this
// process drain and exit. A new process that fails (a config the new
// version refuses, a crash) leaves this one serving.
func (rt *server) upgrade() error {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	pid, err := rt.upgradeLocked()
	if rt.ops != nil {
		rt.ops.Upgrade(err)
	}
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			rt.log.Error("upgrade failed; this process goes on serving", "error", line)
		}
		return err
	}
	rt.log.Info("upgrade: new process serving; draining this one", "new_pid", pid)
	close(rt.handedOver)
	return nil
}

func (rt *server) upgradeLocked() (int, error) {
	switch {
	case rt.draining.Load():
		return 0, errors.New("upgrade: the process is draining")
	case rt.file == "":
		return 0, errors.New("upgrade: the embedded default config cannot be upgraded; serve a file with -c")
	case rt.exe == "":
		return 0, errors.New("upgrade: the path of this binary is unknown")
	}
	select {
	case <-rt.handedOver:
		return 0, errors.New("upgrade: already handed over")
	default:
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("upgrade: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "upgrade"), os.NewFile(uintptr(fds[1]), "upgrade-child")
	fc, err := net.FileConn(ours)
	_ = ours.Close()
	if err != nil {
		_ = theirs.Close()
		return 0, fmt.Errorf("upgrade: %w", err)
	}
	conn := fc.(*net.UnixConn)
	defer conn.Close()

	cmd := exec.Command(rt.exe, "serve", "-c", rt.file) // #nosec G204 -- this binary (os.Executable) re-run on the config it serves, no input from traffic
	cmd.Env = append(os.Environ(), upgradeFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Start()
	_ = theirs.Close()
	if err != nil {
		return 0, fmt.Errorf("upgrade: start %s: %w", rt.exe, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps it while this process lives
		close(exited)
	}()
	failed := func(err error) (int, error) {
		_ = cmd.Process.Kill()
		<-exited
		return 0, fmt.Errorf("upgrade: new process %d: %w", cmd.Process.Pid, err)
	}

	g := rt.current()
	o := offer{}
	lns := append([]net.Listener(nil), g.lns...)
	for _, l := range g.cfg.Listeners {
		o.Listeners = append(o.Listeners, l.Addr)
	}
	if rt.ms != nil {
		o.Metrics = g.cfg.Metrics.Address
		lns = append(lns, rt.ms.ln)
	}
	msg, _ := json.Marshal(o)
	_ = conn.SetDeadline(time.Now().Add(upgradeTimeout))
	if _, err := conn.Write(msg); err != nil {
		return failed(err)
	}
	if err := listen.SendListeners(conn, lns); err != nil {
		return failed(err)
	}
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	switch {
	case err == io.EOF || n == 0:
		return failed(errors.New("exited before serving (its stderr says why)"))
	case err != nil:
		return failed(err)
	}
	if reply := string(buf[:n]); reply != "ready" {
		return failed(errors.New(strings.TrimPrefix(reply, "error: ")))
	}
	return cmd.Process.Pid, nil
}

func runUpgrade(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return runControl("upgrade", args, stdout, stderr, `Replaces the serving gantry with the binary now at the path it was started
from, without refusing a connection or failing a request: the serving
process starts the new binary with the same config file and hands it its
listening sockets (and the metrics socket) over a Unix socket (SCM_RIGHTS);
once the new process serves, the old one stops accepting and drains within
server.timeouts.shutdown_grace. The pid file follows the new process.

If the new process fails to start (for instance it refuses the config),
the old one goes on serving, and this command prints why and exits 1.
SIGUSR2 to the serving process does the same, with the outcome in its log.

It talks to server.control_socket, read from the config file given with -c
(or given with --socket). Prints "ok" and exits 0 once the new process serves.`)
}

// runControl is `gantry reload` and `gantry upgrade`: one request on the
// control socket.
func runControl(name string, args []string, stdout, stderr io.Writer, about string) int {
	f := newFlags(name, "gantry "+name+" -c FILE | --socket PATH", about)
	file := f.String("c", "", "config file of the serving gantry (its server.control_socket is used)")
	sock := f.String("socket", "", "control socket path (instead of -c)")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	path := *sock
	switch {
	case (*file == "") == (path == ""):
		fmt.Fprintf(stderr, "gantry %s: give exactly one of -c FILE and --socket PATH\n\n", name)
		f.printHelp(stderr)
		return 2
	case *file != "":
		var err error
		if path, err = config.ControlSocketOf(*file); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	ok, err := controlRequest(path, name, func(l string) { fmt.Fprintln(stderr, l) })
	if err != nil {
		fmt.Fprintf(stderr, "gantry %s: %v\n", name, err)
		return 1
	}
	if !ok {
		fmt.Fprintf(stderr, "gantry %s: failed; the running config and process are unchanged\n", name)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
