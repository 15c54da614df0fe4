package h2

import (
	"net"
	"sync/atomic"
)

// resetGuard closes a connection whose client cancels most streams it
// opens (the HTTP/2 "rapid reset" attack, CVE-2023-44487): x/net/http2
// bounds the handlers queued, but a proxy whose handlers notice a reset
// quickly would otherwise serve such a client forever.
type resetGuard struct {
	conn            net.Conn
	streams, resets atomic.Int64
}

// Past resetGuardMin early resets, a client resetting more than half of
// its streams is an attacker, not a browser cancelling navigations.
const resetGuardMin = 200

// reset counts a stream the client reset; it closes the connection past
// the limit and reports true the first time it does.
func (g *resetGuard) reset() bool {
	n := g.resets.Add(1)
	if n > resetGuardMin && 2*n > g.streams.Load() {
		_ = g.conn.Close()
		return n == resetGuardMin+1
	}
	return false
}
