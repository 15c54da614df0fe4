//go:build !race && ((openssl && !boringssl) || (boringssl && !openssl))

package sslconn

const raceEnabled = false
