//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

import gtls "github.com/gantry-proxy/gantry/tls"

// Backend is this package seen through the TLS seam. tls/openssl and
// tls/boring register one each under their own name; the code behind both is
// the same shim, compiled against whichever library the build tag chose.
type Backend struct{ name string }

// NewBackend names the library this binary was built against.
func NewBackend(name string) Backend { return Backend{name: name} }

// Name is the registry name given to NewBackend.
func (b Backend) Name() string { return b.name }

// Library is the linked library's own version string.
func (Backend) Library() string { return Library() }

// Capabilities is what the linked library was probed to support.
func (Backend) Capabilities() gtls.Capabilities { return Capabilities() }

// NewServer compiles cfg into an SSL_CTX.
func (Backend) NewServer(cfg *gtls.ServerConfig) (gtls.Server, error) {
	s, err := NewServer(cfg)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return s, nil
}

// NewClient compiles cfg into an SSL_CTX with a session cache.
func (Backend) NewClient(cfg *gtls.ClientConfig) (gtls.Client, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
