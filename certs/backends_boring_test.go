//go:build boringssl

package certs

// The reload tests run against every compiled-in backend.
import _ "github.com/gantry-proxy/gantry/tls/boring"
