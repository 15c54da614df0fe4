// Package boring is Gantry's BoringSSL TLS backend, registered as "boringssl".
//
// It is compiled in only with the build tag boringssl and is a pure Go adapter:
// the C shim and its wrapper live in cgo/ssl, and this package must never
// use cgo or package unsafe itself, nor reach the library any other way.
package boring
