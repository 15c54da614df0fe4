package gostd

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

// conn is a crypto/tls.Conn whose peer verification and handshake bounds
// follow Gantry's rules.
type conn struct {
	tc         *stdtls.Conn
	verifier   *tls.PeerVerifier
	timeout    time.Duration
	serverName string // what a server certificate is verified against
	isServer   bool
	requires   bool // server: the client-auth mode refuses a client without a certificate

	handshaken atomic.Bool

	mu     sync.Mutex
	chains [][]*x509.Certificate // set by verifyConnection during the handshake
}

// verifyConnection runs in crypto/tls's handshake, full or resumed, and is
// the only place a peer certificate is judged.
func (c *conn) verifyConnection(cs stdtls.ConnectionState) error {
	raw := make([][]byte, len(cs.PeerCertificates))
	for i, cert := range cs.PeerCertificates {
		raw[i] = cert.Raw
	}
	certs, chains, err := c.verifier.Verify(raw, c.serverName)
	if err != nil {
		return err
	}
	if !c.isServer {
		if err := c.verifier.VerifyStaple(cs.OCSPResponse, certs, chains, cs.DidResume); err != nil {
			return err
		}
	}
	// A resumed session was made by a full handshake that passed.
	if !c.isServer && !cs.DidResume {
		if err := c.verifier.VerifySCTs(certs, chains, cs.SignedCertificateTimestamps, cs.OCSPResponse); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.chains = chains
	c.mu.Unlock()
	return nil
}

func (c *conn) HandshakeContext(ctx context.Context) error {
	if c.handshaken.Load() {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.tc.HandshakeContext(hctx)
	if err == nil {
		c.handshaken.Store(true)
		return nil
	}
	if ctx.Err() == nil && hctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", c.timeout, err)
	}
	return c.handshakeError(err)
}

// errNoClientCert is how crypto/tls words its own refusal of a client
// without a certificate, which it decides before VerifyConnection runs.
const errNoClientCert = "didn't provide a certificate"

func (c *conn) handshakeError(err error) error {
	role := "client"
	if c.isServer {
		role = "server"
	}
	var verr *tls.VerifyError
	if c.isServer && c.requires && !errors.As(err, &verr) && strings.Contains(err.Error(), errNoClientCert) {
		// Report it the way every backend does, as the verifier's refusal.
		err = &tls.VerifyError{Alert: tls.AlertCertificateRequired, Err: tls.ErrNoCertificate}
	}
	return fmt.Errorf("gostd: %s handshake with %s: %w", role, c.tc.RemoteAddr(), err)
}

// implicitHandshake bounds the handshake that the first Read or Write
// starts, which crypto/tls alone would let run without a limit.
func (c *conn) implicitHandshake() error {
	if c.handshaken.Load() {
		return nil
	}
	return c.HandshakeContext(context.Background())
}

func (c *conn) Read(b []byte) (int, error) {
	if err := c.implicitHandshake(); err != nil {
		return 0, err
	}
	return c.tc.Read(b)
}

func (c *conn) Write(b []byte) (int, error) {
	if err := c.implicitHandshake(); err != nil {
		return 0, err
	}
	return c.tc.Write(b)
}

func (c *conn) Close() error { return c.tc.Close() }

// CloseWrite sends close_notify and then half-closes the transport too, so
// a peer that reads the socket rather than TLS records also sees the end.
func (c *conn) CloseWrite() error {
	if err := c.tc.CloseWrite(); err != nil {
		return fmt.Errorf("gostd: close write: %w", err)
	}
	if hc, ok := c.tc.NetConn().(interface{ CloseWrite() error }); ok {
		if err := hc.CloseWrite(); err != nil {
			return fmt.Errorf("gostd: close write: %w", err)
		}
	}
	return nil
}

func (c *conn) ConnectionState() stdtls.ConnectionState {
	cs := c.tc.ConnectionState()
	c.mu.Lock()
	cs.VerifiedChains = c.chains
	c.mu.Unlock()
	return cs
}

func (c *conn) Backend() string                    { return name }
func (c *conn) LocalAddr() net.Addr                { return c.tc.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr               { return c.tc.RemoteAddr() }
func (c *conn) SetDeadline(t time.Time) error      { return c.tc.SetDeadline(t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.tc.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.tc.SetWriteDeadline(t) }
