package gostd

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/gantry-proxy/gantry/tls"
)

// fingerprintConn is a uTLS client connection with the same verification,
// handshake bounds and ConnectionState as conn.
type fingerprintConn struct {
	uc         *utls.UConn
	setupErr   error // from applying the profile; returned by the handshake
	verifier   *tls.PeerVerifier
	params     tls.Params
	timeout    time.Duration
	serverName string

	handshaken atomic.Bool

	mu     sync.Mutex
	chains [][]*x509.Certificate
}

// verifyConnection runs in uTLS's handshake, full or resumed.
func (c *fingerprintConn) verifyConnection(cs utls.ConnectionState) error {
	if err := checkNegotiated(c.params, cs.Version, cs.CipherSuite); err != nil {
		return err
	}
	raw := make([][]byte, len(cs.PeerCertificates))
	for i, cert := range cs.PeerCertificates {
		raw[i] = cert.Raw
	}
	_, chains, err := c.verifier.Verify(raw, c.serverName)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.chains = chains
	c.mu.Unlock()
	return nil
}

func (c *fingerprintConn) HandshakeContext(ctx context.Context) error {
	if c.handshaken.Load() {
		return nil
	}
	if c.setupErr != nil {
		_ = c.uc.Close()
		return fmt.Errorf("gostd: client handshake with %s: %w", c.uc.RemoteAddr(), c.setupErr)
	}
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.uc.HandshakeContext(hctx)
	if err == nil {
		c.handshaken.Store(true)
		return nil
	}
	if ctx.Err() == nil && hctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", c.timeout, err)
	}
	return fmt.Errorf("gostd: client handshake with %s: %w", c.uc.RemoteAddr(), err)
}

func (c *fingerprintConn) implicitHandshake() error {
	if c.handshaken.Load() {
		return nil
	}
	return c.HandshakeContext(context.Background())
}

func (c *fingerprintConn) Read(b []byte) (int, error) {
	if err := c.implicitHandshake(); err != nil {
		return 0, err
	}
	return c.uc.Read(b)
}

func (c *fingerprintConn) Write(b []byte) (int, error) {
	if err := c.implicitHandshake(); err != nil {
		return 0, err
	}
	return c.uc.Write(b)
}

func (c *fingerprintConn) Close() error { return c.uc.Close() }

// CloseWrite sends close_notify and half-closes the transport, as conn's.
func (c *fingerprintConn) CloseWrite() error {
	if err := c.uc.CloseWrite(); err != nil {
		return fmt.Errorf("gostd: close write: %w", err)
	}
	if hc, ok := c.uc.NetConn().(interface{ CloseWrite() error }); ok {
		if err := hc.CloseWrite(); err != nil {
			return fmt.Errorf("gostd: close write: %w", err)
		}
	}
	return nil
}

// ConnectionState is uTLS's state in the standard library's type, with
// the chains Gantry's verifier built.
func (c *fingerprintConn) ConnectionState() stdtls.ConnectionState {
	us := c.uc.ConnectionState()
	c.mu.Lock()
	chains := c.chains
	c.mu.Unlock()
	return stdtls.ConnectionState{
		Version:                     us.Version,
		HandshakeComplete:           us.HandshakeComplete,
		DidResume:                   us.DidResume,
		CipherSuite:                 us.CipherSuite,
		NegotiatedProtocol:          us.NegotiatedProtocol,
		ServerName:                  us.ServerName,
		PeerCertificates:            us.PeerCertificates,
		VerifiedChains:              chains,
		SignedCertificateTimestamps: us.SignedCertificateTimestamps,
		OCSPResponse:                us.OCSPResponse,
	}
}

func (c *fingerprintConn) Backend() string                    { return name }
func (c *fingerprintConn) LocalAddr() net.Addr                { return c.uc.LocalAddr() }
func (c *fingerprintConn) RemoteAddr() net.Addr               { return c.uc.RemoteAddr() }
func (c *fingerprintConn) SetDeadline(t time.Time) error      { return c.uc.SetDeadline(t) }
func (c *fingerprintConn) SetReadDeadline(t time.Time) error  { return c.uc.SetReadDeadline(t) }
func (c *fingerprintConn) SetWriteDeadline(t time.Time) error { return c.uc.SetWriteDeadline(t) }
