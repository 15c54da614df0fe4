//go:build (openssl && !boringssl) || (boringssl && !openssl)

package sslconn

import gtls "github.com/gantry-proxy/gantry/tls"

// cgoBackend is the C library this binary links behind the TLS seam: the
// engine is cgo/ssl, everything above it is this package's. tls/openssl
// and tls/boring differ only in the name they register it under.
type cgoBackend struct {
	name string
	caps func() gtls.Capabilities
}

// CgoBackend returns the linked C library's backend, named name.
func CgoBackend(name string) gtls.Backend {
	return cgoBackend{name: name, caps: Probe(CgoLibrary)}
}

func (b cgoBackend) Name() string                    { return b.name }
func (cgoBackend) Library() string                   { return CgoLibrary.Describe() }
func (b cgoBackend) Capabilities() gtls.Capabilities { return b.caps() }

// NewServer compiles cfg into an SSL_CTX.
func (b cgoBackend) NewServer(cfg *gtls.ServerConfig) (gtls.Server, error) {
	s, err := NewServer(CgoLibrary, b.caps(), cfg)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return s, nil
}

// NewClient compiles cfg into an SSL_CTX with a session cache.
func (b cgoBackend) NewClient(cfg *gtls.ClientConfig) (gtls.Client, error) {
	c, err := NewClient(CgoLibrary, b.caps(), cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
