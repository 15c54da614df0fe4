package clienthello

import "net"

// ReplayConn serves the bytes Read already took off a connection before
// the rest of it, so that a TLS library handshakes on the very stream the
// client sent. Writes go straight to the connection.
type ReplayConn struct {
	net.Conn
	pending []byte
}

// Replay returns c with raw (what Read returned) put back in front of it.
func Replay(c net.Conn, raw []byte) *ReplayConn { return &ReplayConn{Conn: c, pending: raw} }

func (c *ReplayConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// NetConn returns the connection underneath, which writes go straight to.
func (c *ReplayConn) NetConn() net.Conn { return c.Conn }
