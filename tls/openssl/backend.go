//go:build openssl

package openssl

import (
	"github.com/gantry-proxy/gantry/cgo/ssl"
	"github.com/gantry-proxy/gantry/tls"
)

type backend struct{}

var theBackend tls.Backend = backend{}

func init() { tls.Register(theBackend) }

// Backend returns the OpenSSL 3 backend, the one registered as "openssl".
func Backend() tls.Backend { return theBackend }

func (backend) Name() string { return "openssl" }

func (backend) Library() string { return ssl.Library() }

func (backend) Capabilities() tls.Capabilities { return ssl.Capabilities() }

func (backend) NewServer(cfg *tls.ServerConfig) (tls.Server, error) {
	s, err := ssl.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (backend) NewClient(cfg *tls.ClientConfig) (tls.Client, error) {
	c, err := ssl.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
