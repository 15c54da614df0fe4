//go:build race && ((openssl && !boringssl) || (boringssl && !openssl))

package sslconn

// The race detector keeps shadow memory and history for every goroutine
// and allocation, so RSS grows with work done even when nothing leaks.
const raceEnabled = true
