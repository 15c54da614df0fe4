// Package sslconn is the pure Go half of the OpenSSL and BoringSSL backends:
// the tls seam's Server, Client and Conn built on a TLS engine that only
// steps a connection over byte buffers (cgo/ssl, behind the Engine
// interfaces of engine.go).
//
// Here live everything that need not touch C: translating a ServerConfig or
// ClientConfig into engine settings, the record pump between the engine and
// any net.Conn with its deadlines and locks, the client session cache,
// certificate selection by SNI, certificate verification through the shared
// Go verifier, and ConnectionState.
//
// It must never use cgo or package unsafe, nor reach a C library other than
// through the Engine interfaces, so that its tests run against a fake engine
// with no build tags. It must never hold an engine step across network I/O.
package sslconn
