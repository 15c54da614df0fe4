package gostd

import (
	stdtls "crypto/tls"
	"fmt"
	"runtime"

	"github.com/gantry-proxy/gantry/tls"
)

// name is the registry name of this backend.
const name = "gostd"

type backend struct{}

// theBackend is stateless, so one value serves every caller.
var theBackend tls.Backend = backend{}

func init() { tls.Register(theBackend) }

// Backend returns the crypto/tls backend, the one registered as "gostd".
func Backend() tls.Backend { return theBackend }

func (backend) Name() string { return name }

func (backend) Library() string { return fmt.Sprintf("Go crypto/tls (%s)", runtime.Version()) }

func (backend) Capabilities() tls.Capabilities {
	caps := tls.Capabilities{
		Versions: []uint16{tls.VersionTLS12, tls.VersionTLS13},
		Groups:   []tls.Group{tls.X25519MLKEM768, tls.X25519, tls.P256, tls.P384},
		// crypto/tls has no setting for the TLS 1.3 suites.
		FixedTLS13Suites: true,
		// crypto/tls decrypts ECH as a client-facing server.
		ServerECH: true,
		// Clients can send a browser's ClientHello, through uTLS.
		ClientFingerprints: true,
	}
	for _, s := range tls.Suites() {
		caps.CipherSuites = append(caps.CipherSuites, s.ID)
	}
	return caps
}

// baseConfig is the part of a crypto/tls.Config that servers and clients
// share: versions, suites and groups, all taken from the resolved Params.
func baseConfig(p tls.Params, alpn []string) *stdtls.Config {
	conf := &stdtls.Config{
		MinVersion: p.MinVersion,
		MaxVersion: p.MaxVersion,
		NextProtos: append([]string(nil), alpn...),
	}
	// crypto/tls does not let TLS 1.3 suites be configured; it only ever
	// uses the three that every Gantry policy allows.
	for _, s := range p.TLS12Suites {
		conf.CipherSuites = append(conf.CipherSuites, s.ID)
	}
	for _, g := range p.Groups {
		conf.CurvePreferences = append(conf.CurvePreferences, g.CurveID())
	}
	return conf
}

// stdCertificate converts a tls.Certificate, parsing the leaf when the
// caller built the value by hand.
func stdCertificate(c tls.Certificate) (stdtls.Certificate, error) {
	leaf, err := c.ParsedLeaf()
	if err != nil {
		return stdtls.Certificate{}, err
	}
	sc := stdtls.Certificate{Certificate: c.Chain, PrivateKey: c.Key, Leaf: leaf, OCSPStaple: c.OCSPStaple}
	sc.SignedCertificateTimestamps = c.SCTs
	return sc, nil
}
