// Package openssl is Gantry's OpenSSL 3 TLS backend, registered as "openssl".
//
// It is compiled in only with the build tag openssl and is a pure Go adapter:
// the C shim and its wrapper live in cgo/ssl, and this package must never
// use cgo or package unsafe itself, nor reach the library any other way.
package openssl
