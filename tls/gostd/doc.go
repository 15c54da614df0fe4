// Package gostd is Gantry's default TLS backend, over Go's crypto/tls.
//
// It is compiled into every binary and registers itself as "gostd". It maps
// the backend-neutral configs of package tls onto one crypto/tls.Config per
// Server or Client, and leaves every certificate decision to tls.PeerVerifier
// so that it accepts and refuses exactly what the cgo backends do.
//
// This package must never let crypto/tls verify a peer on its own, never
// interpret policy names itself (it uses tls.Params), and never contain cgo
// or unsafe code.
package gostd
