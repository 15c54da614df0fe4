//go:build openssl

package openssl

import (
	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/internal/sslconn"
)

// theBackend is OpenSSL 3 behind the TLS seam: the engine is cgo/ssl built
// with the openssl tag, and everything above it is sslconn's.
var theBackend = sslconn.CgoBackend("openssl")

func init() { tls.Register(theBackend) }

// Backend returns the OpenSSL 3 backend, the one registered as "openssl".
func Backend() tls.Backend { return theBackend }
