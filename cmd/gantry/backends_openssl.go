//go:build openssl

package main

// The OpenSSL backend registers itself when imported.
import _ "github.com/gantry-proxy/gantry/tls/openssl"
