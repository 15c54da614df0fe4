// Package boring is Gantry's BoringSSL TLS backend, registered as "boringssl".
//
// It is compiled in only with the build tag boringssl. It is the tls.Backend
// over sslconn (configuration, record pump, session cache) and the cgo/ssl
// engine built against BoringSSL. It must never use cgo or package unsafe
// itself, nor reach the library other than through sslconn's engine.
package boring
