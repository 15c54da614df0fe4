//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// initErr is set when the shim cannot register its ex_data slots; no
// context can be made then.
var initErr error

func init() {
	if C.gantry_init() != 1 {
		initErr = fmt.Errorf("%s: cannot allocate ex_data indices", Flavor)
	}
}

// Version is the library's own version string, e.g. "OpenSSL 3.0.19 27 Jan
// 2026". BoringSSL reports only "BoringSSL" here; see Library.
func Version() string { return C.GoString(C.gantry_version()) }

// Library describes the linked library for `gantry backends`.
func Library() string {
	if IsBoringSSL() {
		// Debian's package has no version API beyond the API level.
		return fmt.Sprintf("%s (Debian android-libboringssl, API version %d)", Version(), int(C.gantry_api_version()))
	}
	return Version()
}

// IsBoringSSL reports whether the linked library is BoringSSL, whose TLS 1.3
// suites are fixed.
func IsBoringSSL() bool { return C.gantry_is_boringssl() == 1 }

// HasGroup reports whether the library accepts a key exchange group by its
// library name ("X25519", "P-256", ...).
func HasGroup(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.gantry_probe_group(cname) == 1
}

// CHeapInUse is glibc's count of live malloc'd bytes, for leak tests: C
// objects are invisible to the Go heap.
func CHeapInUse() int64 { return int64(C.gantry_c_heap_in_use()) }
