// Package openssl is Gantry's OpenSSL 3 TLS backend, registered as "openssl".
//
// It is compiled in only with the build tag openssl. It is the tls.Backend
// over sslconn (configuration, record pump, session cache) and the cgo/ssl
// engine built against OpenSSL 3. It must never use cgo or package unsafe
// itself, nor reach the library other than through sslconn's engine.
package openssl
