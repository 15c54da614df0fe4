// Package ssl is the thin Go wrapper around Gantry's C shim (shim.c), which
// drives OpenSSL 3 (build tag openssl) or BoringSSL (build tag boringssl)
// over memory BIOs. It implements the tls seam's Server, Client and Conn so
// that the backend packages tls/openssl and tls/boring stay pure Go.
//
// Without either tag this package is empty, so `go build ./...` works on a
// machine without the C libraries. With both tags it refuses to compile:
// OpenSSL and BoringSSL export the same C symbols.
//
// It must never keep a Go pointer in C memory, never hold the lock around an
// SSL object while waiting on the network, and never free a C object that
// another owner may still use: every SSL_CTX, SSL and SSL_SESSION has exactly
// one Go owner with a Close method, and runtime.AddCleanup as a safety net.
package ssl
