package gostd

import (
	stdtls "crypto/tls"
	"net"
	"strings"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

type client struct {
	config   *stdtls.Config
	verifier *tls.PeerVerifier
	timeout  time.Duration
}

func (backend) NewClient(cfg *tls.ClientConfig) (tls.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := cfg.Params(theBackend.Capabilities())
	if err != nil {
		return nil, err
	}
	if cfg.Fingerprint != "" {
		return newFingerprintClient(cfg, p)
	}
	conf := baseConfig(p, cfg.ALPN)
	// Certificates are checked by tls.PeerVerifier in VerifyConnection,
	// never by crypto/tls, so every backend shares one set of rules and
	// verification never depends on whether SNI was sent.
	conf.InsecureSkipVerify = true // #nosec G402 -- tls.PeerVerifier verifies the chain and name in VerifyConnection.
	if cfg.Certificate != nil {
		cert, err := stdCertificate(*cfg.Certificate)
		if err != nil {
			return nil, err
		}
		// Offered whenever asked, whatever CA names the server lists: the
		// server decides, and its refusal is clearer than silence.
		conf.GetClientCertificate = func(*stdtls.CertificateRequestInfo) (*stdtls.Certificate, error) {
			return &cert, nil
		}
	}
	if !cfg.DisableSessionCache {
		conf.ClientSessionCache = stdtls.NewLRUClientSessionCache(cfg.CacheSize())
	}
	return &client{config: conf, verifier: tls.NewServerVerifier(cfg), timeout: cfg.Timeout()}, nil
}

func (cl *client) Client(raw net.Conn, serverName string) tls.Conn {
	c := &conn{verifier: cl.verifier, timeout: cl.timeout, serverName: serverName}
	conf := cl.config.Clone()
	// RFC 6066 forbids an IP address in SNI; the verifier still checks the
	// certificate against it.
	host := strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
	if net.ParseIP(host) == nil {
		conf.ServerName = serverName
	}
	conf.VerifyConnection = c.verifyConnection
	c.tc = stdtls.Client(raw, conf)
	return c
}

// Close has nothing to release; the session cache goes with the last conn.
func (cl *client) Close() error { return nil }
