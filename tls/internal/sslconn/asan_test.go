//go:build asan && ((openssl && !boringssl) || (boringssl && !openssl))

package sslconn

// AddressSanitizer keeps freed memory in quarantine (256 MiB by default),
// so RSS grows with work done; its own reports are the memory check then.
const asanEnabled = true
