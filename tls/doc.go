// Package tls is Gantry's backend-neutral TLS seam.
//
// The proxy sees TLS only through the types here: a Backend compiles a
// ServerConfig or ClientConfig once into a Server or Client, which wrap raw
// net.Conns into Conns. Configs are plain data, identical for every backend,
// and are validated here before any backend sees them. Peer certificates are
// verified here too, in Go (crypto/x509), for every backend, so that all
// backends accept and refuse the same chains with the same messages.
//
// This package must never know about HTTP, never import a backend, and never
// contain cgo or unsafe code: backends register themselves (see Register) and
// everything memory-unsafe lives under cgo/.
package tls
