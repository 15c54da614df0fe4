package sslconn

import (
	stdtls "crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// Conn is a TLS connection: an Engine pumped over any net.Conn.
//
// Locks: the engine serialises its own steps and holds its lock only inside
// a step, never across network I/O. readMu and writeMu serialise readers
// and writers on the raw conn, so one Read and one Write can run at once.
// Output the engine produces is always sent by a holder of writeMu, in
// order, so records never interleave on the wire.
type Conn struct {
	raw      net.Conn
	flavor   string
	isClient bool
	name     string
	timeout  time.Duration
	cache    *sessionCache
	eng      Engine // nil when initErr is set
	peer     *peerState
	initErr  error

	hsMu   sync.Mutex
	hsDone atomic.Bool
	hsErr  error
	state  stdtls.ConnectionState

	readMu  sync.Mutex
	readErr error
	// starved records that the last read step found no buffered record or
	// plaintext, so the next Read goes to the network without a step.
	starved bool

	writeMu      sync.Mutex
	writeErr     error
	shutdownSent bool

	dlMu      sync.Mutex
	readDL    time.Time
	writeDL   time.Time
	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

var _ gtls.Conn = (*Conn)(nil)

// connParams is what a Server or Client gives each of its Conns.
type connParams struct {
	ctx      Context
	flavor   string
	isClient bool
	verifier *gtls.PeerVerifier
	timeout  time.Duration
	cache    *sessionCache
}

func newConn(raw net.Conn, p connParams, name string) *Conn {
	c := &Conn{raw: raw, flavor: p.flavor, isClient: p.isClient, name: name, timeout: p.timeout,
		cache: p.cache, peer: &peerState{verifier: p.verifier, serverName: name}}
	var sni string
	// RFC 6066 forbids IP literals in SNI; the name is still verified.
	if p.isClient && net.ParseIP(name) == nil {
		sni = name
	}
	mk := func(sess Session) {
		c.eng, c.initErr = p.ctx.NewEngine(!p.isClient, sni, sess, c.peer.verify)
	}
	if p.cache == nil {
		mk(nil)
		return c
	}
	p.cache.with(name, func(cs *cachedSession) {
		if cs == nil {
			mk(nil)
			return
		}
		// If the server accepts the session, no chain is sent to verify:
		// what was verified with it stands. A full handshake overwrites it.
		c.peer.certs, c.peer.chains = cs.certs, cs.chains
		mk(cs.sess)
	})
	return c
}

// failedConn is a Conn that was never given an engine.
func failedConn(raw net.Conn, flavor string, isClient bool, err error) *Conn {
	return &Conn{raw: raw, flavor: flavor, isClient: isClient, initErr: err}
}

// Backend names the library behind the connection.
func (c *Conn) Backend() string { return c.flavor }

// LocalAddr is the raw conn's.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr is the raw conn's.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets both deadlines on the raw conn, so a blocked Read or
// Write returns the raw conn's timeout error.
func (c *Conn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.readDL, c.writeDL = t, t
	c.dlMu.Unlock()
	return c.raw.SetDeadline(t)
}

// SetReadDeadline sets the raw conn's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.readDL = t
	c.dlMu.Unlock()
	return c.raw.SetReadDeadline(t)
}

// SetWriteDeadline sets the raw conn's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.writeDL = t
	c.dlMu.Unlock()
	return c.raw.SetWriteDeadline(t)
}

// ConnectionState reports the negotiated parameters once the handshake is
// done, and HandshakeComplete false before.
func (c *Conn) ConnectionState() stdtls.ConnectionState {
	if !c.hsDone.Load() {
		return stdtls.ConnectionState{}
	}
	return c.state
}

// keep hands a session the engine just made to the client cache.
func (c *Conn) keep(s Step) Step {
	if s.Session == nil {
		return s
	}
	if c.cache == nil {
		s.Session.Close()
	} else {
		c.cache.put(c.name, s.Session, c.peer.certs, c.peer.chains)
	}
	s.Session = nil
	return s
}

// Close sends close_notify if it can without waiting on a blocked Write,
// closes the raw conn, which unblocks any Read or Write, and then frees the
// engine, which waits for a step in progress.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.hsDone.Load() && c.hsErr == nil && c.writeMu.TryLock() {
			if c.writeErr == nil {
				_ = c.raw.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
				_ = c.closeNotifyLocked()
			}
			c.writeMu.Unlock()
		}
		c.closeErr = c.raw.Close()
		if c.eng != nil {
			c.eng.Close()
		}
	})
	return c.closeErr
}
