package gostd

import (
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

type server struct {
	config   *stdtls.Config
	verifier *tls.PeerVerifier
	requires bool // the client-auth mode refuses a client without a certificate
	timeout  time.Duration
	rotation *ticketRotation // nil when keys are configured or tickets are off
}

func (backend) NewServer(cfg *tls.ServerConfig) (tls.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := cfg.Params(theBackend.Capabilities())
	if err != nil {
		return nil, err
	}
	conf := baseConfig(p, cfg.ALPN)

	certs := make([]stdtls.Certificate, len(cfg.Certificates))
	for i, c := range cfg.Certificates {
		if certs[i], err = stdCertificate(c); err != nil {
			return nil, fmt.Errorf("gostd: certificate %d: %w", i, err)
		}
	}
	conf.GetCertificate = pickCertificate(certs)

	// crypto/tls is only ever asked to collect client certificates; the
	// verifier decides, in VerifyConnection, on full and resumed handshakes.
	switch cfg.ClientAuth {
	case tls.ClientAuthNone:
		conf.ClientAuth = stdtls.NoClientCert
	case tls.ClientAuthRequest, tls.ClientAuthVerifyIfGiven:
		conf.ClientAuth = stdtls.RequestClientCert
	case tls.ClientAuthRequire, tls.ClientAuthRequireAndVerify:
		conf.ClientAuth = stdtls.RequireAnyClientCert
	}
	if len(cfg.ClientCAs) > 0 {
		// Only for the CA names in CertificateRequest: with the modes above
		// crypto/tls never verifies against this pool.
		conf.ClientCAs = x509.NewCertPool()
		for _, ca := range cfg.ClientCAs {
			conf.ClientCAs.AddCert(ca)
		}
	}

	if cfg.DisableSessionTickets {
		conf.SessionTicketsDisabled = true
	} else {
		keys := make([][32]byte, 0, len(cfg.SessionTicketKeys))
		for _, k := range cfg.SessionTicketKeys {
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			conf.SetSessionTicketKeys(keys)
		}
	}

	conf.EncryptedClientHelloKeys = echKeys(cfg.ECHKeys)

	s := &server{
		config:   conf,
		verifier: tls.NewClientVerifier(cfg),
		requires: cfg.ClientAuth == tls.ClientAuthRequire || cfg.ClientAuth == tls.ClientAuthRequireAndVerify,
		timeout:  cfg.Timeout(),
	}
	if !cfg.DisableSessionTickets && len(cfg.SessionTicketKeys) == 0 {
		s.rotation = &ticketRotation{}
		if err := s.rotation.rotate(conf, time.Now()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Without configured keys, crypto/tls would make and rotate its own, but
// per config, and every conn here gets its own clone: tickets would never
// resume. So the Server keeps random keys on the shared config and rotates
// them as crypto/tls does, a new key a day, each kept for a week of
// tickets.
const (
	ticketKeyPeriod = 24 * time.Hour
	ticketKeysKept  = 8
)

type ticketRotation struct {
	mu   sync.Mutex
	keys [][32]byte // newest first
	next time.Time  // when to add a key
}

// rotate prepends a fresh key if now is past the rotation time. Clones made
// afterwards share the new list.
func (r *ticketRotation) rotate(conf *stdtls.Config, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.next) {
		return nil
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return fmt.Errorf("gostd: make session ticket key: %w", err)
	}
	r.keys = append([][32]byte{k}, r.keys[:min(len(r.keys), ticketKeysKept-1)]...)
	r.next = now.Add(ticketKeyPeriod)
	conf.SetSessionTicketKeys(r.keys)
	return nil
}

// echKeys copies the keys into crypto/tls's type. crypto/tls tries each
// one on a client's ECH offer (it does not go by config id) and builds the
// retry configs from those with SendAsRetry. It returns nil for none,
// which leaves ECH off.
func echKeys(keys []tls.ECHKey) []stdtls.EncryptedClientHelloKey {
	if len(keys) == 0 {
		return nil
	}
	out := make([]stdtls.EncryptedClientHelloKey, len(keys))
	for i, k := range keys {
		out[i] = stdtls.EncryptedClientHelloKey{
			Config:      slices.Clone(k.Config),
			PrivateKey:  slices.Clone(k.PrivateKey),
			SendAsRetry: k.SendAsRetry,
		}
	}
	return out
}

// pickCertificate chooses the first certificate valid for the client's SNI,
// and the first one overall when none is or no SNI was sent.
func pickCertificate(certs []stdtls.Certificate) func(*stdtls.ClientHelloInfo) (*stdtls.Certificate, error) {
	return func(hello *stdtls.ClientHelloInfo) (*stdtls.Certificate, error) {
		if hello.ServerName != "" {
			for i := range certs {
				if certs[i].Leaf.VerifyHostname(hello.ServerName) == nil {
					return &certs[i], nil
				}
			}
		}
		return &certs[0], nil
	}
}

func (s *server) Server(raw net.Conn) tls.Conn {
	if s.rotation != nil {
		// Only a failing random source stops rotation; the old keys then
		// stay in use, which is the lesser harm than refusing the conn.
		_ = s.rotation.rotate(s.config, time.Now())
	}
	c := &conn{verifier: s.verifier, timeout: s.timeout, isServer: true, requires: s.requires}
	// A shallow clone per connection gives VerifyConnection a way to reach
	// this conn; ticket keys and everything else stay shared.
	conf := s.config.Clone()
	conf.VerifyConnection = c.verifyConnection
	if len(conf.NextProtos) > 0 {
		conf.GetConfigForClient = strictALPN(conf)
	}
	c.tc = stdtls.Server(raw, conf)
	return c
}

// Close has nothing to release: the compiled config lives as long as the
// conns that use it.
func (s *server) Close() error { return nil }

// strictALPN refuses a client whose ALPN list has no overlap with ours,
// which the seam promises. crypto/tls alone lets an "http/1.1" client reach
// an "h2"-only server as if it had sent no ALPN (Go issue 46310); handing it
// a protocol list with no "h2" and no match makes crypto/tls send
// no_application_protocol as it does for any other mismatch.
func strictALPN(conf *stdtls.Config) func(*stdtls.ClientHelloInfo) (*stdtls.Config, error) {
	return func(hello *stdtls.ClientHelloInfo) (*stdtls.Config, error) {
		if len(hello.SupportedProtos) == 0 {
			return nil, nil
		}
		for _, ours := range conf.NextProtos {
			if slices.Contains(hello.SupportedProtos, ours) {
				return nil, nil
			}
		}
		refuse := conf.Clone()
		refuse.GetConfigForClient = nil
		none := "gantry-no-overlap"
		for slices.Contains(hello.SupportedProtos, none) {
			none += "-"
		}
		refuse.NextProtos = []string{none}
		return refuse, nil
	}
}
