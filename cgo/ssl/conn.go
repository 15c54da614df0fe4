//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// connCore is the single owner of a gantry_conn (SSL and its two memory
// BIOs), of the handle its verify callback uses, and of one reference on
// the SSL_CTX.
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

// Conn is one TLS connection over memory BIOs: each method is one step that
// takes the bytes received from the peer and hands back the bytes to send.
// It never touches the network. Its lock is held only inside a step, so
// steps and Close may come from any goroutine.
type Conn struct {
	mu        sync.Mutex
	core      *connCore // nil once closed
	handshook bool      // the library has state to report; before, asking can crash it
	cleanup   runtime.Cleanup
}

// NewConn makes a connection. A client sends sni (none if empty) and offers
// sess (may be nil) for resumption; verify decides on the peer's chain.
func (c *Context) NewConn(server bool, sni string, sess *Session, verify VerifyFunc) (*Conn, error) {
	o := c.owner
	if c.closed.Load() || !o.acquire() {
		return nil, ErrContextClosed
	}
	// The handle holds only the VerifyFunc, never the Conn, so that an
	// abandoned Conn can be collected and its cleanup can run.
	core := &connCore{owner: o, handle: cgo.NewHandle(verify)}
	var csni *C.char
	if sni != "" {
		csni = C.CString(sni)
		defer C.free(unsafe.Pointer(csni))
	}
	var sp *C.SSL_SESSION
	if sess != nil {
		sp = sess.p
	}
	core.c = C.gantry_conn_new(o.ctx, cbool(server), csni, sp, C.uintptr_t(core.handle))
	if core.c == nil {
		core.handle.Delete()
		o.release()
		return nil, fmt.Errorf("%s: out of memory", Flavor)
	}
	if core.c.ssl == nil || core.c.err[0] != 0 {
		err := fmt.Errorf("%s: new connection: %s", Flavor, C.GoString(&core.c.err[0]))
		core.free()
		return nil, err
	}
	conn := &Conn{core: core}
	conn.cleanup = runtime.AddCleanup(conn, (*connCore).free, core)
	return conn, nil
}

// Close frees the connection, waiting for a step in progress to return.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.core != nil {
		c.cleanup.Stop()
		c.core.free()
		c.core = nil
	}
}

// with runs f on the live gantry_conn under the lock; false once closed.
func (c *Conn) with(f func(k *C.gantry_conn)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.core == nil {
		return false
	}
	f(c.core.c)
	return true
}

// step runs one shim call that may advance the protocol, and hands over
// any client session it produced.
func (c *Conn) step(call func(k *C.gantry_conn) Step) Step {
	s := Step{Status: Closed}
	c.with(func(k *C.gantry_conn) {
		s = call(k)
		if k.new_session != nil {
			s.Session = newSession(k.new_session)
			k.new_session = nil
		}
	})
	return s
}

func status(st C.int) Status {
	switch st {
	case C.GANTRY_OK:
		return Done
	case C.GANTRY_WANT_READ:
		return WantRead
	case C.GANTRY_EOF:
		return EOF
	}
	return Failed
}

// Handshake feeds in and advances the handshake; output goes into out.
func (c *Conn) Handshake(in, out []byte) Step {
	return c.step(func(k *C.gantry_conn) Step {
		ip, il := cbytes(in)
		op, ol := cbytes(out)
		s := Step{Status: status(C.gantry_handshake(k, ip, il, op, ol)), Out: int(k.out_len), More: k.out_more > 0}
		c.handshook = c.handshook || s.Status == Done
		if s.Status == Failed {
			s.Err = connError(k)
			s.NoCertificate = k.err_reason != 0 && k.err_reason == C.gantry_reason_no_certificate()
		}
		return s
	})
}

// Read feeds in and decrypts as much plaintext into p as is there, without
// waiting. Post-handshake messages may leave bytes to send (More).
func (c *Conn) Read(in, p []byte) Step {
	return c.step(func(k *C.gantry_conn) Step {
		ip, il := cbytes(in)
		pp, pl := cbytes(p)
		s := Step{Status: status(C.gantry_read(k, ip, il, pp, pl)), N: int(k.n), More: k.out_more > 0, Starved: k.starved != 0}
		if s.Status == Failed {
			s.Err = connError(k)
		}
		return s
	})
}

// Write encrypts as much of p as the library takes (N) into out.
func (c *Conn) Write(p, out []byte) Step {
	return c.step(func(k *C.gantry_conn) Step {
		dp, dl := cbytes(p)
		op, ol := cbytes(out)
		s := Step{Status: status(C.gantry_write(k, dp, dl, op, ol)), N: int(k.n), Out: int(k.out_len), More: k.out_more > 0}
		if s.Status != Done {
			s.Status, s.Err = Failed, connError(k)
		}
		return s
	})
}

// Drain copies bytes still waiting for the peer into out.
func (c *Conn) Drain(out []byte) Step {
	return c.step(func(k *C.gantry_conn) Step {
		op, ol := cbytes(out)
		C.gantry_drain(k, op, ol)
		return Step{Status: Done, Out: int(k.out_len), More: k.out_more > 0}
	})
}

// Shutdown writes close_notify into out.
func (c *Conn) Shutdown(out []byte) Step {
	return c.step(func(k *C.gantry_conn) Step {
		op, ol := cbytes(out)
		s := Step{Status: status(C.gantry_shutdown(k, op, ol)), Out: int(k.out_len), More: k.out_more > 0}
		if s.Status != Done {
			s.Status, s.Err = Failed, connError(k)
		}
		return s
	})
}

// State reports the negotiated parameters; zero before the handshake is
// done and once closed.
func (c *Conn) State() State {
	var s State
	c.with(func(k *C.gantry_conn) {
		if !c.handshook {
			return
		}
		var st C.gantry_state
		C.gantry_state_get(k, &st)
		s = State{
			Version: uint16(st.version),
			Cipher:  uint16(st.cipher),
			Curve:   uint16(st.curve),
			Resumed: st.resumed == 1,
			// The library's buffers live with the SSL: copy them out.
			ALPN: C.GoStringN((*C.char)(unsafe.Pointer(st.alpn)), C.int(st.alpn_len)),
			OCSP: goBytes(unsafe.Pointer(st.ocsp), st.ocsp_len),
			SCTs: goBytes(unsafe.Pointer(st.scts), st.scts_len),
		}
		if st.sni != nil {
			s.ServerName = C.GoString(st.sni)
		}
	})
	return s
}

// PeerChain is the peer's certificates (DER, leaf first), or nil.
func (c *Conn) PeerChain() [][]byte {
	var blob []byte
	c.with(func(k *C.gantry_conn) {
		var n C.size_t
		if p := C.gantry_peer_chain(k, &n); p != nil {
			blob = goBytes(unsafe.Pointer(p), n)
			C.free(unsafe.Pointer(p))
		}
	})
	chain, err := decodeChain(blob)
	if err != nil {
		return nil
	}
	return chain
}

// goBytes copies n bytes of C memory; nil for none.
func goBytes(p unsafe.Pointer, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return C.GoBytes(p, C.int(n))
}
