//go:build boringssl

package main

// The BoringSSL backend registers itself when imported.
import _ "github.com/gantry-proxy/gantry/tls/boring"
