//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	gtls "github.com/gantry-proxy/gantry/tls"
)

const (
	// rawBufSize holds a full TLS record with room to spare.
	rawBufSize = 32 << 10
	// writeChunk is the plaintext handed to SSL_write per crossing: four
	// full records.
	writeChunk = 64 << 10
	// outBufSize fits writeChunk once encrypted (4 records × at most 29
	// bytes of framing) so a chunk leaves in one raw Write.
	outBufSize = writeChunk + 1024
	// closeNotifyTimeout bounds the close_notify that Close sends, as
	// crypto/tls does.
	closeNotifyTimeout = 5 * time.Second
)

var (
	rawPool = sync.Pool{New: func() any { b := make([]byte, rawBufSize); return &b }}
	outPool = sync.Pool{New: func() any { b := make([]byte, outBufSize); return &b }}

	errShutdown  = errors.New("tls: protocol is shut down")
	errNoHSYet   = errors.New("tls: CloseWrite called before the handshake completed")
	aLongTimeAgo = time.Unix(1, 0)
)

// peerState is what the verify callback fills in. It is the value behind
// the connection's cgo.Handle and references no Conn, so an abandoned Conn
// can still be collected and cleaned up.
type peerState struct {
	verifier   *gtls.PeerVerifier
	serverName string
	certs      []*x509.Certificate
	chains     [][]*x509.Certificate
	verified   bool
	err        error
}

// connCore is the single owner of a gantry_conn (SSL + BIOs), its handle
// and its reference on the SSL_CTX.
type connCore struct {
	c      *C.gantry_conn
	handle cgo.Handle
	owner  *ctxOwner
	once   sync.Once
}

func (k *connCore) free() {
	k.once.Do(func() {
		C.gantry_conn_free(k.c)
		k.c = nil
		k.handle.Delete()
		k.owner.release()
	})
}

// Conn is a TLS connection over memory BIOs on any net.Conn.
//
// Locks: sslMu guards the SSL object and is held only inside cgo calls,
// never across network I/O. readMu and writeMu serialise readers and
// writers on the raw conn, so one Read and one Write can run at once.
// Output the library produces is always sent by a holder of writeMu, in
// order, so records never interleave on the wire.
type Conn struct {
	raw      net.Conn
	isClient bool
	name     string
	timeout  time.Duration
	cache    *sessionCache
	core     *connCore
	peer     *peerState
	initErr  error

	hsMu   sync.Mutex
	hsDone atomic.Bool
	hsErr  error
	state  stdtls.ConnectionState

	sslMu sync.Mutex

	readMu  sync.Mutex
	readErr error
	// starved records that the last read call found no buffered record or
	// plaintext, so the next Read goes to the network without a crossing.
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

func newConn(raw net.Conn, owner *ctxOwner, isClient bool, name string, v *gtls.PeerVerifier,
	timeout time.Duration, cache *sessionCache) *Conn {
	c := &Conn{raw: raw, isClient: isClient, name: name, timeout: timeout, cache: cache,
		peer: &peerState{verifier: v, serverName: name}}
	if !owner.acquire() {
		c.initErr = errClosedEndpoint
		return c
	}
	core := &connCore{owner: owner, handle: cgo.NewHandle(c.peer)}
	mk := func(sess *C.SSL_SESSION) {
		var sni *C.char
		// RFC 6066 forbids IP literals in SNI; the name is still verified.
		if isClient && name != "" && net.ParseIP(name) == nil {
			sni = C.CString(name)
			defer C.free(unsafe.Pointer(sni))
		}
		core.c = C.gantry_conn_new(owner.ctx, cbool(!isClient), sni, sess, C.uintptr_t(core.handle))
	}
	if isClient && cache != nil {
		cache.with(name, func(cs *cachedSession) {
			if cs == nil {
				mk(nil)
				return
			}
			// If the server accepts the session, no chain is sent to verify:
			// what was verified with it stands. A full handshake overwrites it.
			c.peer.certs, c.peer.chains = cs.certs, cs.chains
			mk(cs.sess)
		})
	} else {
		mk(nil)
	}
	c.core = core
	if core.c == nil {
		c.initErr = fmt.Errorf("%s: out of memory", Flavor)
		core.handle.Delete()
		owner.release()
		c.core = nil
		return c
	}
	if core.c.ssl == nil || core.c.err[0] != 0 {
		c.initErr = fmt.Errorf("%s: new connection: %s", Flavor, C.GoString(&core.c.err[0]))
		core.free()
		c.core = nil
		return c
	}
	runtime.AddCleanup(c, func(k *connCore) { k.free() }, core)
	return c
}

// Backend names the library behind the connection.
func (c *Conn) Backend() string { return Flavor }

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

// call runs f on the SSL object under sslMu; ok is false once the
// connection has been freed.
func (c *Conn) call(f func(k *C.gantry_conn)) bool {
	c.sslMu.Lock()
	defer c.sslMu.Unlock()
	if c.core == nil || c.core.c == nil {
		return false
	}
	f(c.core.c)
	c.takeSession(c.core.c)
	return true
}

// takeSession moves a session the library just made into the client cache.
func (c *Conn) takeSession(k *C.gantry_conn) {
	if k.new_session == nil {
		return
	}
	s := k.new_session
	k.new_session = nil
	if c.cache == nil {
		C.gantry_session_free(s)
		return
	}
	c.cache.put(c.name, s, c.peer.certs, c.peer.chains)
}

func (c *Conn) errString(k *C.gantry_conn) string {
	return C.GoString(&k.err[0])
}

// Handshake runs the handshake with no context.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the handshake once; later calls return its result.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() {
		return c.hsErr
	}
	err := c.handshake(ctx)
	c.hsErr = err
	c.hsDone.Store(true)
	return err
}

func (c *Conn) handshake(ctx context.Context) (err error) {
	if c.initErr != nil {
		return c.initErr
	}
	if c.closed.Load() {
		return fmt.Errorf("%s: handshake: %w", Flavor, net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		_ = c.Close()
		return fmt.Errorf("%s: handshake: %w", Flavor, err)
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// A deadline the caller set on the conn binds the handshake too.
	c.dlMu.Lock()
	for _, d := range []time.Time{c.readDL, c.writeDL} {
		if !d.IsZero() && d.Before(deadline) {
			deadline = d
		}
	}
	c.dlMu.Unlock()
	_ = c.raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(aLongTimeAgo) })
	defer func() {
		if !stop() {
			// Cancelled: the deadline was clobbered, and the contract is to
			// close the connection.
			_ = c.Close()
			if err == nil || ctx.Err() != nil {
				err = fmt.Errorf("%s: handshake: %w", Flavor, context.Cause(ctx))
			}
			return
		}
		c.dlMu.Lock()
		_ = c.raw.SetReadDeadline(c.readDL)
		_ = c.raw.SetWriteDeadline(c.writeDL)
		c.dlMu.Unlock()
	}()

	rbp := rawPool.Get().(*[]byte)
	obp := outPool.Get().(*[]byte)
	defer rawPool.Put(rbp)
	defer outPool.Put(obp)
	rbuf, obuf := *rbp, *obp
	var in []byte
	for {
		var st C.int
		var outN int
		var more bool
		var herr error
		var reason int
		ok := c.call(func(k *C.gantry_conn) {
			ip, il := cbytes(in)
			op, ol := cbytes(obuf)
			st = C.gantry_handshake(k, ip, il, op, ol)
			outN, more = int(k.out_len), k.out_more > 0
			if st == C.GANTRY_ERROR {
				herr = fmt.Errorf("%s: handshake: %s", Flavor, c.errString(k))
				reason = int(k.err_reason)
			}
		})
		if !ok {
			return fmt.Errorf("%s: handshake: %w", Flavor, net.ErrClosed)
		}
		in = nil
		if st == C.GANTRY_OK && !c.isClient && (outN > 0 || more) {
			// The server's last flight is only session tickets, which the
			// client need not read before it writes. Sent synchronously,
			// they would deadlock a client that writes first over a pipe
			// without buffering, so they go out in the background; taking
			// writeMu here keeps every later Write behind them. A TCP
			// socket buffers them in the kernel, and there a goroutine per
			// handshake (its start, its wake-up on the other CPU) costs
			// more than the write.
			c.writeMu.Lock()
			if kernelBuffered(c.raw) {
				c.flushTail(obuf[:outN], more)
				return c.finishHandshake()
			}
			go c.flushTail(bytes.Clone(obuf[:outN]), more)
			return c.finishHandshake()
		}
		if outN > 0 {
			if _, werr := c.raw.Write(obuf[:outN]); werr != nil && st != C.GANTRY_ERROR {
				return fmt.Errorf("%s: handshake: %w", Flavor, werr)
			}
		}
		if more {
			if werr := c.drainTo(obuf); werr != nil && st != C.GANTRY_ERROR {
				return fmt.Errorf("%s: handshake: %w", Flavor, werr)
			}
		}
		switch st {
		case C.GANTRY_OK:
			return c.finishHandshake()
		case C.GANTRY_ERROR:
			return c.handshakeError(herr, reason)
		}
		n, rerr := c.raw.Read(rbuf)
		if n > 0 {
			in = rbuf[:n]
			continue
		}
		if rerr == nil {
			continue
		}
		if c.peer.err != nil {
			return c.peer.err
		}
		if errors.Is(rerr, io.EOF) {
			rerr = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: handshake: %w", Flavor, rerr)
	}
}

// flushTail sends the end of the server's handshake output and releases the
// writeMu the handshake took for it.
func (c *Conn) flushTail(out []byte, more bool) {
	defer c.writeMu.Unlock()
	if len(out) > 0 {
		if _, err := c.raw.Write(out); err != nil {
			c.writeErr = err
			return
		}
	}
	if more {
		obp := outPool.Get().(*[]byte)
		defer outPool.Put(obp)
		if err := c.drainTo(*obp); err != nil {
			c.writeErr = err
		}
	}
}

// drainTo sends whatever output the library still holds. The caller holds
// writeMu or is the handshake, which excludes writers.
func (c *Conn) drainTo(obuf []byte) error {
	for {
		var outN int
		var more bool
		ok := c.call(func(k *C.gantry_conn) {
			op, ol := cbytes(obuf)
			C.gantry_drain(k, op, ol)
			outN, more = int(k.out_len), k.out_more > 0
		})
		if !ok {
			return net.ErrClosed
		}
		if outN > 0 {
			if _, err := c.raw.Write(obuf[:outN]); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// handshakeError prefers the Go verifier's verdict, so every backend
// reports the same *tls.VerifyError for the same chain.
func (c *Conn) handshakeError(libErr error, reason int) error {
	if c.peer.err != nil {
		return c.peer.err
	}
	if !c.isClient && reason != 0 && reason == int(C.gantry_reason_no_certificate()) {
		return &gtls.VerifyError{Alert: gtls.AlertCertificateRequired, Err: gtls.ErrNoCertificate}
	}
	return libErr
}

func (c *Conn) finishHandshake() error {
	var st C.gantry_state
	var alpn, sni string
	var chain, ocsp, scts []byte
	c.call(func(k *C.gantry_conn) {
		C.gantry_state_get(k, &st)
		if st.alpn_len > 0 {
			alpn = C.GoStringN((*C.char)(unsafe.Pointer(st.alpn)), C.int(st.alpn_len))
		}
		if st.sni != nil {
			sni = C.GoString(st.sni)
		}
		if st.ocsp_len > 0 {
			ocsp = C.GoBytes(unsafe.Pointer(st.ocsp), C.int(st.ocsp_len))
		}
		if st.scts_len > 0 {
			scts = C.GoBytes(unsafe.Pointer(st.scts), C.int(st.scts_len))
		}
		if c.peer.certs == nil {
			var n C.size_t
			p := C.gantry_peer_chain(k, &n)
			if p != nil {
				chain = C.GoBytes(unsafe.Pointer(p), C.int(n))
				C.free(unsafe.Pointer(p))
			}
		}
	})
	if c.peer.certs == nil && len(chain) > 0 {
		// No callback ran (a resumed server-side session, or no
		// verification requested): the chain still belongs in the state.
		if ders, err := decodeChain(chain); err == nil {
			certs, chains, verr := c.peer.verifier.Verify(ders, c.name)
			if verr != nil {
				chains = nil
			}
			c.peer.certs, c.peer.chains = certs, chains
		}
	}
	s := stdtls.ConnectionState{
		Version:                     uint16(st.version),
		HandshakeComplete:           true,
		DidResume:                   st.resumed == 1,
		CipherSuite:                 uint16(st.cipher),
		CurveID:                     stdtls.CurveID(st.curve),
		NegotiatedProtocol:          alpn,
		ServerName:                  sni,
		PeerCertificates:            c.peer.certs,
		VerifiedChains:              c.peer.chains,
		OCSPResponse:                ocsp,
		SignedCertificateTimestamps: splitSCTList(scts),
	}
	if c.isClient {
		s.ServerName = c.name
	}
	c.state = s
	return nil
}

// Read reads application data, handling post-handshake messages on the way.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readErr != nil {
		return 0, c.readErr
	}
	var rbp *[]byte
	defer func() {
		if rbp != nil {
			rawPool.Put(rbp)
		}
	}()
	var in []byte
	for {
		if c.starved && in == nil {
			if rbp == nil {
				rbp = rawPool.Get().(*[]byte)
			}
			m, err := c.raw.Read(*rbp)
			if m > 0 {
				in = (*rbp)[:m]
			} else if err != nil {
				return 0, c.rawReadError(err)
			}
			continue
		}
		var st C.int
		var n int
		var more, starved bool
		var rerr error
		ok := c.call(func(k *C.gantry_conn) {
			ip, il := cbytes(in)
			pp, pl := cbytes(p)
			st = C.gantry_read(k, ip, il, pp, pl)
			n, more, starved = int(k.n), k.out_more > 0, k.starved != 0
			if st == C.GANTRY_ERROR {
				rerr = fmt.Errorf("%s: read: %s", Flavor, c.errString(k))
			}
		})
		if !ok {
			return 0, net.ErrClosed
		}
		in = nil
		c.starved = starved
		if more {
			// A KeyUpdate or similar wants an answer; it goes out in order
			// with application data through writeMu.
			c.flushFromReader()
		}
		switch st {
		case C.GANTRY_OK:
			return n, nil
		case C.GANTRY_EOF:
			c.readErr = io.EOF
			return 0, io.EOF
		case C.GANTRY_ERROR:
			c.readErr = rerr
			return 0, rerr
		}
		if rbp == nil {
			rbp = rawPool.Get().(*[]byte)
		}
		m, err := c.raw.Read(*rbp)
		if m > 0 {
			in = (*rbp)[:m]
			continue
		}
		if err != nil {
			return 0, c.rawReadError(err)
		}
	}
}

// rawReadError turns an error of the raw conn into Read's result. The
// caller holds readMu.
func (c *Conn) rawReadError(err error) error {
	if errors.Is(err, io.EOF) {
		// The peer closed without close_notify; like crypto/tls, report a
		// plain end of stream.
		c.readErr = io.EOF
		return io.EOF
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	// Timeouts stay recoverable: the raw error is returned as is so it is a
	// net.Error with Timeout() true.
	return err
}

func (c *Conn) flushFromReader() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	obp := outPool.Get().(*[]byte)
	defer outPool.Put(obp)
	if err := c.drainTo(*obp); err != nil && c.writeErr == nil {
		c.writeErr = err
	}
}

// Write encrypts p and sends it; it returns once all of p is on the raw
// conn or an error occurred.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return 0, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	if len(p) == 0 {
		return 0, nil
	}
	obp := outPool.Get().(*[]byte)
	defer outPool.Put(obp)
	obuf := *obp
	total := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), writeChunk)]
		var st C.int
		var n, outN int
		var more bool
		var werr error
		ok := c.call(func(k *C.gantry_conn) {
			dp, dl := cbytes(chunk)
			op, ol := cbytes(obuf)
			st = C.gantry_write(k, dp, dl, op, ol)
			n, outN, more = int(k.n), int(k.out_len), k.out_more > 0
			if st != C.GANTRY_OK {
				werr = fmt.Errorf("%s: write: %s", Flavor, c.errString(k))
			}
		})
		if !ok {
			return total, net.ErrClosed
		}
		if outN > 0 {
			if _, err := c.raw.Write(obuf[:outN]); err != nil {
				// A record may be half sent: the stream is unusable.
				c.writeErr = err
				return total, err
			}
		}
		if more {
			if err := c.drainTo(obuf); err != nil {
				c.writeErr = err
				return total, err
			}
		}
		if werr != nil {
			c.writeErr = werr
			return total, werr
		}
		total += n
		p = p[n:]
	}
	return total, nil
}

// CloseWrite sends close_notify; the peer reads io.EOF and can still send.
func (c *Conn) CloseWrite() error {
	if !c.hsDone.Load() || c.hsErr != nil {
		return errNoHSYet
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.closeNotifyLocked()
}

func (c *Conn) closeNotifyLocked() error {
	if c.shutdownSent {
		return nil
	}
	c.shutdownSent = true
	obp := outPool.Get().(*[]byte)
	defer outPool.Put(obp)
	obuf := *obp
	var outN int
	var more bool
	var serr error
	ok := c.call(func(k *C.gantry_conn) {
		op, ol := cbytes(obuf)
		if C.gantry_shutdown(k, op, ol) != C.GANTRY_OK {
			serr = fmt.Errorf("%s: close_notify: %s", Flavor, c.errString(k))
		}
		outN, more = int(k.out_len), k.out_more > 0
	})
	if !ok {
		return net.ErrClosed
	}
	if c.writeErr == nil {
		c.writeErr = errShutdown
	}
	if outN > 0 {
		if _, err := c.raw.Write(obuf[:outN]); err != nil {
			return err
		}
	}
	if more {
		if err := c.drainTo(obuf); err != nil {
			return err
		}
	}
	return serr
}

// Close sends close_notify if it can without waiting on a blocked Write,
// closes the raw conn, which unblocks any Read or Write, and then frees the
// SSL object once no call is inside it.
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
		c.sslMu.Lock()
		if c.core != nil {
			c.core.free()
		}
		c.sslMu.Unlock()
	})
	return c.closeErr
}

// splitSCTList unpacks a SignedCertificateTimestampList (RFC 6962, 3.3):
// a 16-bit length, then 16-bit length-prefixed SCTs. A malformed list
// yields nil rather than part of it.
func splitSCTList(b []byte) [][]byte {
	if len(b) < 2 || int(binary.BigEndian.Uint16(b)) != len(b)-2 {
		return nil
	}
	var out [][]byte
	for b = b[2:]; len(b) > 0; {
		if len(b) < 2 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 || len(b)-2 < n {
			return nil
		}
		out = append(out, b[2:2+n:2+n])
		b = b[2+n:]
	}
	return out
}

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
