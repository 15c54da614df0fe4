// Command vulnerable serves HTTP/2 with an x/net release that has a known,
// reachable vulnerability. It exists only to prove that the audit fails on
// one; it is never built into Gantry.
package main

import (
	"net"

	"golang.org/x/net/http2"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		return
	}
	var srv http2.Server
	srv.ServeConn(c, &http2.ServeConnOpts{})
}
