package gostd

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/gantry-proxy/gantry/tls"
)

// profiles are the uTLS ClientHellos behind ClientConfig.Fingerprint: the
// newest of each browser uTLS knows.
var profiles = map[string]utls.ClientHelloID{
	tls.FingerprintChrome:     utls.HelloChrome_Auto,
	tls.FingerprintFirefox:    utls.HelloFirefox_Auto,
	tls.FingerprintSafari:     utls.HelloSafari_Auto,
	tls.FingerprintRandomized: utls.HelloRandomizedALPN,
}

// fingerprintClient is a client that sends another client's ClientHello
// through uTLS, with Gantry's ALPN in it and Gantry's verifier judging
// the server, as the crypto/tls client does.
type fingerprintClient struct {
	config   *utls.Config
	profile  utls.ClientHelloID
	alpn     []string
	params   tls.Params
	verifier *tls.PeerVerifier
	timeout  time.Duration
}

func newFingerprintClient(cfg *tls.ClientConfig, p tls.Params) (*fingerprintClient, error) {
	profile, ok := profiles[cfg.Fingerprint]
	if !ok {
		return nil, fmt.Errorf("gostd: unknown fingerprint %q", cfg.Fingerprint)
	}
	conf := &utls.Config{
		// The profile decides what is offered; the policy still bounds
		// what is accepted (checkNegotiated).
		MinVersion: p.MinVersion,
		NextProtos: append([]string(nil), cfg.ALPN...),
		// As for the crypto/tls client: tls.PeerVerifier judges the
		// chain and the name in VerifyConnection, never uTLS.
		InsecureSkipVerify: true, // #nosec G402 -- tls.PeerVerifier verifies the chain and name in VerifyConnection.
	}
	if cfg.Certificate != nil {
		leaf, err := cfg.Certificate.ParsedLeaf()
		if err != nil {
			return nil, err
		}
		cert := utls.Certificate{Certificate: cfg.Certificate.Chain, PrivateKey: cfg.Certificate.Key, Leaf: leaf}
		conf.GetClientCertificate = func(*utls.CertificateRequestInfo) (*utls.Certificate, error) { return &cert, nil }
	}
	if !cfg.DisableSessionCache {
		conf.ClientSessionCache = utls.NewLRUClientSessionCache(cfg.CacheSize())
	}
	return &fingerprintClient{
		config: conf, profile: profile, alpn: conf.NextProtos, params: p,
		verifier: tls.NewServerVerifier(cfg), timeout: cfg.Timeout(),
	}, nil
}

func (cl *fingerprintClient) Client(raw net.Conn, serverName string) tls.Conn {
	c := &fingerprintConn{verifier: cl.verifier, timeout: cl.timeout, serverName: serverName, params: cl.params}
	conf := cl.config.Clone()
	host := strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
	if net.ParseIP(host) == nil {
		conf.ServerName = serverName // RFC 6066: never an IP address in SNI
	}
	conf.VerifyConnection = c.verifyConnection
	if cl.profile == utls.HelloRandomizedALPN {
		// A randomized hello takes NextProtos as its ALPN. uTLS now and
		// then draws one it cannot finish (see hrrSafe); nothing is sent
		// yet, so draw again.
		for range randomizedDraws {
			c.uc = utls.UClient(raw, conf.Clone(), cl.profile)
			if c.setupErr = c.uc.BuildHandshakeState(); c.setupErr == nil && hrrSafe(c.uc.Extensions) {
				return c
			}
		}
		if c.setupErr == nil {
			c.setupErr = errors.New("no randomized ClientHello uTLS can complete was drawn")
		}
		return c
	}
	c.uc = utls.UClient(raw, conf, utls.HelloCustom)
	spec, err := profileSpec(cl.profile, cl.alpn)
	if err == nil {
		err = c.uc.ApplyPreset(&spec)
	}
	c.setupErr = err
	return c
}

// randomizedDraws bounds the draws of a randomized hello, each one
// independent of the others.
const randomizedDraws = 32

// hrrSafe reports whether a hello offers X25519MLKEM768 only with a key
// share for it. uTLS cannot answer a HelloRetryRequest for that group, and
// a server preferring it (crypto/tls does) asks for one when the hello
// lists the group without a share.
func hrrSafe(exts []utls.TLSExtension) bool {
	listed, shared := false, false
	for _, e := range exts {
		switch e := e.(type) {
		case *utls.SupportedCurvesExtension:
			listed = slices.Contains(e.Curves, utls.X25519MLKEM768)
		case *utls.KeyShareExtension:
			shared = slices.ContainsFunc(e.KeyShares, func(k utls.KeyShare) bool { return k.Group == utls.X25519MLKEM768 })
		}
	}
	return !listed || shared
}

// Close has nothing to release.
func (cl *fingerprintClient) Close() error { return nil }

// profileSpec is the ClientHello of profile with its ALPN list replaced by alpn
// (removed when alpn is empty): the upstream leg must negotiate what the
// proxy speaks to it, whatever the browser would have offered. A new spec
// is made for every connection, as uTLS fills it in while applying it.
func profileSpec(profile utls.ClientHelloID, alpn []string) (utls.ClientHelloSpec, error) {
	spec, err := utls.UTLSIdToSpec(profile)
	if err != nil {
		return spec, fmt.Errorf("gostd: fingerprint %s: %w", profile.Str(), err)
	}
	found := false
	spec.Extensions = slices.DeleteFunc(spec.Extensions, func(e utls.TLSExtension) bool {
		a, ok := e.(*utls.ALPNExtension)
		if !ok {
			return false
		}
		found = true
		a.AlpnProtocols = append([]string(nil), alpn...)
		return len(alpn) == 0
	})
	if !found && len(alpn) > 0 {
		return spec, fmt.Errorf("gostd: fingerprint %s has no ALPN extension to offer %v in", profile.Str(), alpn)
	}
	return spec, nil
}

// errOutsidePolicy is a server that chose what the profile offers but the
// policy refuses (a TLS 1.2 CBC suite a browser still lists, say).
var errOutsidePolicy = errors.New("the server chose a version or cipher suite outside the policy")

// checkNegotiated holds the connection to the policy: the profile may
// offer more than the policy allows, never negotiate it.
func checkNegotiated(p tls.Params, version, suite uint16) error {
	if version < p.MinVersion || version > tls.VersionTLS13 {
		return fmt.Errorf("%w: version 0x%04x", errOutsidePolicy, version)
	}
	if version == tls.VersionTLS13 {
		return nil // the three TLS 1.3 suites are in every policy
	}
	for _, s := range p.TLS12Suites {
		if s.ID == suite {
			return nil
		}
	}
	return fmt.Errorf("%w: suite 0x%04x", errOutsidePolicy, suite)
}
