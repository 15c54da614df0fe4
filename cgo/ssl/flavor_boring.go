//go:build boringssl && !openssl

package ssl

// Debian's android-libboringssl-dev keeps BoringSSL apart from OpenSSL's
// headers and libraries, hence the include path and the rpath below.

// #cgo CFLAGS: -I/usr/include/android -O2 -Wall
// #cgo LDFLAGS: -L/usr/lib/x86_64-linux-gnu/android -lssl -lcrypto -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android
import "C"

// Flavor names the library this build links, and prefixes its errors.
const Flavor = "boringssl"
