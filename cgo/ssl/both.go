//go:build openssl && boringssl

package ssl

// OpenSSL and BoringSSL define the same C symbols (SSL_new, SSL_read, ...),
// so a binary can link only one of them. This reference to an undefined name
// makes `go build -tags 'openssl boringssl'` fail with a message that says so.
var _ = openssl_and_boringssl_export_the_same_C_symbols_and_cannot_share_one_binary
