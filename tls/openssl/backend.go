//go:build openssl

package openssl

import (
	"github.com/gantry-proxy/gantry/cgo/ssl"
	"github.com/gantry-proxy/gantry/tls"
)

var theBackend tls.Backend = ssl.NewBackend("openssl")

func init() { tls.Register(theBackend) }

// Backend returns the OpenSSL 3 backend, the one registered as "openssl".
func Backend() tls.Backend { return theBackend }
