package listen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// The listener hand-off behind a zero-downtime restart: the new process
// receives the old one's listening sockets over a Unix socket (SCM_RIGHTS)
// and serves them, so no connection attempt is ever refused; the old
// process then shuts down gracefully and drains. These are the two halves
// of the hand-off; when and over which socket they run is the binary's
// business.

// maxHandOff bounds the listeners in one hand-off (and the control message).
const maxHandOff = 64

type handOffHeader struct {
	Addrs []string `json:"addrs"`
}

// SendListeners sends the file descriptors of lns (TCP listeners) over c,
// with their addresses so the receiver can match them to its
// configuration. The listeners stay open here: close them (Shutdown) once
// the receiver serves.
func SendListeners(c *net.UnixConn, lns []net.Listener) error {
	if len(lns) == 0 || len(lns) > maxHandOff {
		return fmt.Errorf("listen: hand-off of %d listeners (want 1 to %d)", len(lns), maxHandOff)
	}
	var h handOffHeader
	fds := make([]int, 0, len(lns))
	files := make([]*os.File, 0, len(lns))
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	for _, ln := range lns {
		tl, ok := ln.(*net.TCPListener)
		if !ok {
			return fmt.Errorf("listen: hand-off: listener %s is %T, not TCP", ln.Addr(), ln)
		}
		// File dups the descriptor; the copy travels, ours stays open.
		f, err := tl.File()
		if err != nil {
			return fmt.Errorf("listen: hand-off: %s: %w", ln.Addr(), err)
		}
		files = append(files, f)
		fds = append(fds, int(f.Fd()))
		h.Addrs = append(h.Addrs, ln.Addr().String())
	}
	msg, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("listen: hand-off: %w", err)
	}
	if _, _, err := c.WriteMsgUnix(msg, syscall.UnixRights(fds...), nil); err != nil {
		return fmt.Errorf("listen: hand-off: send: %w", err)
	}
	return nil
}

// ReceiveListeners reads what SendListeners sent and returns the listeners
// in the sender's order with their addresses.
func ReceiveListeners(c *net.UnixConn) ([]net.Listener, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(maxHandOff*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("listen: hand-off: receive: %w", err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("listen: hand-off: control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := syscall.ParseUnixRights(&m)
		if err != nil {
			return nil, fmt.Errorf("listen: hand-off: rights: %w", err)
		}
		fds = append(fds, got...)
	}
	closeFDs := func(from int) {
		for _, fd := range fds[from:] {
			_ = syscall.Close(fd)
		}
	}
	var h handOffHeader
	if err := json.Unmarshal(buf[:n], &h); err != nil {
		closeFDs(0)
		return nil, fmt.Errorf("listen: hand-off: header: %w", err)
	}
	if len(h.Addrs) != len(fds) || len(fds) == 0 {
		closeFDs(0)
		return nil, errors.New("listen: hand-off: descriptor count does not match the header")
	}
	lns := make([]net.Listener, 0, len(fds))
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "listener "+h.Addrs[i])
		ln, err := net.FileListener(f)
		_ = f.Close() // FileListener dups it
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			closeFDs(i + 1)
			return nil, fmt.Errorf("listen: hand-off: listener %s: %w", h.Addrs[i], err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}
