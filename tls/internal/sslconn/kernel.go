package sslconn

import "net"

// kernelBuffered reports whether writes to conn land in a TCP socket's
// kernel buffer, looking through wrappers that expose the connection they
// write to with NetConn (as crypto/tls.Conn does, and the proxy's own).
func kernelBuffered(conn net.Conn) bool {
	for range 4 {
		switch c := conn.(type) {
		case *net.TCPConn:
			return true
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return false
		}
	}
	return false
}
