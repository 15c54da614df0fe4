//go:build boringssl

package proxy

// The matrix runs every compiled-in backend on both sides.
import _ "github.com/gantry-proxy/gantry/tls/boring"
