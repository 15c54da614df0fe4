package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The control socket (server.control_socket) is how `gantry reload` and
// `gantry upgrade` reach the serving process. It is a Unix socket, mode
// 0600 and owned by the serving user, and a connection from any other
// uid than that user or root is closed unread. The protocol is one line
// per request ("reload", "upgrade" or "status") answered by lines of
// detail and a last line that is "ok" or "fail".
const (
	controlOK   = "ok"
	controlFail = "fail"
	// controlTimeout bounds a whole exchange; an upgrade waits for the
	// new process to serve, which loads and compiles its config.
	controlTimeout = 2 * time.Minute
)

type controlServer struct {
	ln   *net.UnixListener
	path string
	fi   os.FileInfo // the socket file as bound, to remove only ours
	rt   *server
	wg   sync.WaitGroup
	once sync.Once
}

// listenControl binds path with mode 0600. An existing socket that
// answers belongs to a running server and is an error, unless replace:
// then (in an upgrade) the new socket is bound beside it and renamed over
// it, so the name always reaches a serving process.
func listenControl(path string, rt *server, replace bool, uid, gid int) (*controlServer, error) {
	if !replace {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("control socket %s: another gantry is serving on it", path)
		}
		_ = os.Remove(path) // stale, from a process that did not exit cleanly
	}
	tmp := fmt.Sprintf("%s.new.%d", path, os.Getpid())
	_ = os.Remove(tmp)
	old := syscall.Umask(0o177) // never world- or group-connectable, not even briefly
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*controlServer, error) {
		_ = ln.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(tmp, uid, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &controlServer{ln: ln, path: filepath.Clean(path), fi: fi, rt: rt}, nil
}

func (s *controlServer) serve() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.AcceptUnix()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(c)
			}()
		}
	}()
}

func (s *controlServer) handle(c *net.UnixConn) {
	defer c.Close()
	if !peerAllowed(c) {
		return
	}
	_ = c.SetDeadline(time.Now().Add(controlTimeout))
	line, err := bufio.NewReader(&limitedConn{c, 256}).ReadString('\n')
	if err != nil {
		return
	}
	var opErr error
	switch cmd := strings.TrimSpace(line); cmd {
	case "reload":
		opErr = s.rt.reload()
	case "upgrade":
		opErr = s.rt.upgrade()
	case "status":
		fmt.Fprintf(c, "pid %d serving %s\n", os.Getpid(), s.rt.file)
	default:
		opErr = fmt.Errorf("unknown command %q (want reload, upgrade or status)", cmd)
	}
	if opErr != nil {
		for l := range strings.SplitSeq(opErr.Error(), "\n") {
			fmt.Fprintln(c, l)
		}
		fmt.Fprintln(c, controlFail)
		return
	}
	fmt.Fprintln(c, controlOK)
}

// peerAllowed admits the serving user and root only; the file mode says
// the same, this holds if the directory or mode was loosened.
func peerAllowed(c *net.UnixConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return cred.Uid == 0 || int(cred.Uid) == os.Getuid()
}

// close stops accepting, and removes the socket file unless a successor
// has renamed its own over it.
func (s *controlServer) close() {
	s.once.Do(func() {
		_ = s.ln.Close()
		if fi, err := os.Lstat(s.path); err == nil && os.SameFile(fi, s.fi) {
			_ = os.Remove(s.path)
		}
	})
}

type limitedConn struct {
	c *net.UnixConn
	n int
}

func (l *limitedConn) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("control request too long")
	}
	if len(b) > l.n {
		b = b[:l.n]
	}
	n, err := l.c.Read(b)
	l.n -= n
	return n, err
}

// controlRequest sends cmd to the control socket at path and copies the
// detail lines to out; ok is the server's verdict.
func controlRequest(path, cmd string, out func(string)) (ok bool, err error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return false, fmt.Errorf("control socket %s: %w (is gantry serving with server.control_socket set?)", path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(controlTimeout))
	if _, err := fmt.Fprintln(c, cmd); err != nil {
		return false, fmt.Errorf("control socket %s: %w", path, err)
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		switch l := sc.Text(); l {
		case controlOK:
			return true, nil
		case controlFail:
			return false, nil
		default:
			out(l)
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("control socket %s: %w", path, err)
	}
	return false, fmt.Errorf("control socket %s: the server closed the connection without an answer", path)
}
