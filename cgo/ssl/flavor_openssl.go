//go:build openssl && !boringssl

package ssl

// #cgo pkg-config: libssl libcrypto
// #cgo CFLAGS: -O2 -Wall
import "C"

// Flavor names the library this build links, and prefixes its errors.
const Flavor = "openssl"
