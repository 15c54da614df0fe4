package main

import (
	"net"
	"os"
)

// notifySystemd sends state to systemd when it started the process with
// Type=notify (NOTIFY_SOCKET is set): READY=1 once serving, with MAINPID,
// so that after an upgrade systemd follows the new process (the unit sets
// NotifyAccess=all); STOPPING=1 when draining. Without systemd it does
// nothing.
func notifySystemd(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
