//go:build openssl

package openssl

import (
	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/internal/sslconn"
)

// backend is OpenSSL 3 behind the TLS seam: the engine is cgo/ssl built
// with the openssl tag, and everything above it is sslconn's.
type backend struct{}

var (
	theBackend tls.Backend = backend{}
	caps                   = sslconn.Probe(sslconn.CgoLibrary)
)

func init() { tls.Register(theBackend) }

// Backend returns the OpenSSL 3 backend, the one registered as "openssl".
func Backend() tls.Backend { return theBackend }

func (backend) Name() string                   { return "openssl" }
func (backend) Library() string                { return sslconn.CgoLibrary.Describe() }
func (backend) Capabilities() tls.Capabilities { return caps() }

// NewServer compiles cfg into an SSL_CTX.
func (backend) NewServer(cfg *tls.ServerConfig) (tls.Server, error) {
	s, err := sslconn.NewServer(sslconn.CgoLibrary, caps(), cfg)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return s, nil
}

// NewClient compiles cfg into an SSL_CTX with a session cache.
func (backend) NewClient(cfg *tls.ClientConfig) (tls.Client, error) {
	c, err := sslconn.NewClient(sslconn.CgoLibrary, caps(), cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
