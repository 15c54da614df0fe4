package listen

import (
	"context"
	"fmt"
	"net"
	"syscall"
)

// Bind listens on addr (TCP). With reusePort the socket gets SO_REUSEPORT
// before bind, so that several processes (or a process and its successor
// started outside the upgrade hand-off) can share the port, the kernel
// spreading new connections over them.
func Bind(ctx context.Context, addr string, reusePort bool) (net.Listener, error) {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = setReusePort
	}
	return lc.Listen(ctx, "tcp", addr)
}

// soReusePort is SO_REUSEPORT on Linux, where Gantry runs; the syscall
// package does not name it.
const soReusePort = 0xf

func setReusePort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("SO_REUSEPORT: %w", err)
	}
	return nil
}
