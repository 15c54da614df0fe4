// Package certs holds Gantry's certificate helpers. Today that is a
// development certificate authority: NewDevCA makes an ECDSA P-256 CA in
// memory that issues server and client certificates, for the embedded
// default config (`gantry serve` with no file), for `gantry certs dev`, and
// for tests that need a real chain.
//
// The development CA is for development only, never for production: its key
// lives in process memory, it is not persisted (so it cannot be revoked or
// audited), and whatever trusts it trusts anything it issued. This package
// must never read or write a private key anywhere but the files a caller
// names, and never with permissions wider than 0600.
package certs
