//go:build !asan && ((openssl && !boringssl) || (boringssl && !openssl))

package sslconn

const asanEnabled = false
