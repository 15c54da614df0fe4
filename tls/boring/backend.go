//go:build boringssl

package boring

import (
	"github.com/gantry-proxy/gantry/cgo/ssl"
	"github.com/gantry-proxy/gantry/tls"
)

var theBackend tls.Backend = ssl.NewBackend("boringssl")

func init() { tls.Register(theBackend) }

// Backend returns the BoringSSL backend, the one registered as "boringssl".
func Backend() tls.Backend { return theBackend }
