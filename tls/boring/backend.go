//go:build boringssl

package boring

import (
	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/internal/sslconn"
)

// theBackend is BoringSSL behind the TLS seam: the engine is cgo/ssl built
// with the boringssl tag, and everything above it is sslconn's.
var theBackend = sslconn.CgoBackend("boringssl")

func init() { tls.Register(theBackend) }

// Backend returns the BoringSSL backend, the one registered as "boringssl".
func Backend() tls.Backend { return theBackend }
