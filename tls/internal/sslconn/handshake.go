package sslconn

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// aLongTimeAgo is a deadline in the past: setting it unblocks any I/O.
var aLongTimeAgo = time.Unix(1, 0)

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
		return fmt.Errorf("%s: handshake: %w", c.flavor, net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		_ = c.Close()
		return fmt.Errorf("%s: handshake: %w", c.flavor, err)
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
				err = fmt.Errorf("%s: handshake: %w", c.flavor, context.Cause(ctx))
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
		st := c.eng.Handshake(in, obuf)
		if st.Status == Done && c.isClient {
			// Before the session is cached or anything more is sent.
			if err := c.verifySCTs(); err != nil {
				if st.Session != nil {
					st.Session.Close()
				}
				return err
			}
		}
		st = c.keep(st)
		if st.Status == Closed {
			return fmt.Errorf("%s: handshake: %w", c.flavor, net.ErrClosed)
		}
		in = nil
		if st.Status == Done && !c.isClient {
			// Before anything more goes out (new session tickets
			// among it), a resumed client is judged again.
			if err := c.verifyResumed(); err != nil {
				return err
			}
			if err := c.verifyPending(); err != nil {
				return err
			}
		}
		if st.Status == Done && !c.isClient && (st.Out > 0 || st.More) {
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
				c.flushTail(obuf[:st.Out], st.More)
				return c.finishHandshake()
			}
			go c.flushTail(bytes.Clone(obuf[:st.Out]), st.More)
			return c.finishHandshake()
		}
		if st.Out > 0 {
			if _, werr := c.raw.Write(obuf[:st.Out]); werr != nil && st.Status != Failed {
				return fmt.Errorf("%s: handshake: %w", c.flavor, werr)
			}
		}
		if st.More {
			if werr := c.drainTo(obuf); werr != nil && st.Status != Failed {
				return fmt.Errorf("%s: handshake: %w", c.flavor, werr)
			}
		}
		switch st.Status {
		case Done:
			return c.finishHandshake()
		case Failed:
			return c.handshakeError(st)
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
		return fmt.Errorf("%s: handshake: %w", c.flavor, rerr)
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

// handshakeError prefers the Go verifier's verdict, so every backend
// reports the same *tls.VerifyError for the same chain.
func (c *Conn) handshakeError(st Step) error {
	if c.peer.err != nil {
		return c.peer.err
	}
	if !c.isClient && st.NoCertificate {
		return &gtls.VerifyError{Alert: gtls.AlertCertificateRequired, Err: gtls.ErrNoCertificate}
	}
	return fmt.Errorf("%s: handshake: %s", c.flavor, st.Err)
}

// verifyResumed runs the verifier on the chain a resumed session carries.
// The library's verify callback does not run on resumption, so without it
// a client revoked (or expired, or no longer trusted) since its first
// handshake would come back on its session ticket. A refusal ends the
// handshake with the verifier's *tls.VerifyError; the conn sends nothing
// more, so the client reads an abrupt end, the closest a finished
// handshake gets to an alert.
func (c *Conn) verifyResumed() error {
	if !c.eng.State().Resumed {
		return nil
	}
	certs, chains, err := c.peer.verifier.Verify(c.eng.PeerChain(), c.name)
	if err != nil {
		c.peer.err = err
		return err
	}
	c.peer.certs, c.peer.chains = certs, chains
	return nil
}

// verifySCTs applies the client's Certificate Transparency policy once the
// handshake has delivered all it will: SCTs of the TLS extension and the
// stapled OCSP response arrive after the certificate, and OpenSSL's verify
// callback runs before a TLS 1.2 CertificateStatus. A resumed session was
// made by a full handshake that passed it. A refusal ends the handshake
// with the verifier's *tls.VerifyError, with nothing more sent.
func (c *Conn) verifySCTs() error {
	if !c.peer.verifier.ChecksSCTs() {
		return nil
	}
	st := c.eng.State()
	if st.Resumed {
		return nil
	}
	if err := c.peer.verifier.VerifySCTs(c.peer.certs, c.peer.chains, splitSCTList(st.SCTs), st.OCSP); err != nil {
		c.peer.err = err
		return err
	}
	return nil
}

// verifyPending finishes the verification the callback left pending: a
// CRL it needed was still being fetched, and waiting for it under the
// engine's lock would hold the lock while waiting on the network. Here no
// lock is held and nothing of the handshake's end has been sent yet; a
// refusal ends the conn as verifyResumed's does.
func (c *Conn) verifyPending() error {
	ders := c.peer.pending
	if ders == nil {
		return nil
	}
	c.peer.pending = nil
	certs, chains, err := c.peer.verifier.Verify(ders, c.name)
	if err != nil {
		c.peer.err = err
		return err
	}
	c.peer.certs, c.peer.chains = certs, chains
	return nil
}

func (c *Conn) finishHandshake() error {
	st := c.eng.State()
	if c.peer.certs == nil {
		// No callback ran (a resumed server-side session, or no
		// verification requested): the chain still belongs in the state.
		if ders := c.eng.PeerChain(); len(ders) > 0 {
			certs, chains, verr := c.peer.verifier.Verify(ders, c.name)
			if verr != nil {
				chains = nil
			}
			c.peer.certs, c.peer.chains = certs, chains
		}
	}
	if c.isClient {
		// The staple is judged once the handshake is done, on every
		// library alike: in TLS 1.2 it arrives after the certificate the
		// verify callback saw.
		if err := c.peer.verifier.VerifyStaple(st.OCSP, c.peer.certs, c.peer.chains, st.Resumed); err != nil {
			c.peer.err = err
			return err
		}
	}
	s := stdtls.ConnectionState{
		Version:                     st.Version,
		HandshakeComplete:           true,
		DidResume:                   st.Resumed,
		CipherSuite:                 st.Cipher,
		CurveID:                     stdtls.CurveID(st.Curve),
		NegotiatedProtocol:          st.ALPN,
		ServerName:                  st.ServerName,
		PeerCertificates:            c.peer.certs,
		VerifiedChains:              c.peer.chains,
		OCSPResponse:                st.OCSP,
		SignedCertificateTimestamps: splitSCTList(st.SCTs),
	}
	if c.isClient {
		s.ServerName = c.name
	}
	c.state = s
	return nil
}
