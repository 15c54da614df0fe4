// Package ssl is Gantry's TLS engine: the thin Go side of the C shim
// (shim.c), which drives OpenSSL 3 (build tag openssl) or BoringSSL (build
// tag boringssl) over memory BIOs. It makes and frees contexts and
// connections, steps a connection's handshake, reads, writes and shutdown
// over byte buffers ("want read", "done", "EOF", "failed"), reports the
// negotiated state and the peer's chain, and carries the library's
// callbacks (verification, SNI certificate selection) to Go functions.
// Everything else (the record pump over a net.Conn, deadlines, session
// caching, translating Gantry's configs) is pure Go in tls/internal/sslconn.
//
// Without either tag this package is empty, so `go build ./...` works on a
// machine without the C libraries. With both tags it refuses to compile:
// OpenSSL and BoringSSL export the same C symbols.
//
// It must never import anything of Gantry (the fence is a leaf), never keep
// a Go pointer in C memory (callbacks go through runtime/cgo.Handle), never
// hold the lock around an SSL object other than inside one step (so never
// while waiting on the network), and never free a C object another owner
// may still use: every SSL_CTX, SSL and SSL_SESSION has exactly one Go
// owner with a Close method, and runtime.AddCleanup as a safety net.
package ssl
