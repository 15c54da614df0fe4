//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include "shim.h"
import "C"

import (
	"bytes"
	"runtime/cgo"
	"unsafe"
)

// The two places the library calls back into Go during a handshake. Each
// finds its Go function through a runtime/cgo.Handle, an integer the shim
// stores, because C must never keep a Go pointer. A panic must not unwind
// through the library's C frames, so each recovers and answers with the
// safest result.

const alertInternalError = 80

// gantryVerifyPeer runs the connection's VerifyFunc on the peer's chain
// and returns the alert to send, or 0 to accept.
//
//export gantryVerifyPeer
func gantryVerifyPeer(h C.uintptr_t, chain *C.uint8_t, n C.size_t) (alert C.int) {
	defer func() {
		if recover() != nil {
			alert = alertInternalError
		}
	}()
	verify, ok := cgo.Handle(h).Value().(VerifyFunc)
	if !ok || verify == nil {
		return alertInternalError
	}
	// x509 keeps slices of its input, and the C buffer dies after the call.
	var blob []byte
	if n > 0 {
		blob = bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(chain)), int(n)))
	}
	ders, err := decodeChain(blob)
	return C.int(verify(ders, err))
}

// gantrySelectCert returns the index of the certificate to serve for the
// SNI name; the shim treats an index out of range as 0.
//
//export gantrySelectCert
func gantrySelectCert(h C.uintptr_t, name *C.char) (idx C.int) {
	defer func() {
		if recover() != nil {
			idx = 0
		}
	}()
	sel, ok := cgo.Handle(h).Value().(SelectFunc)
	if !ok || sel == nil || name == nil {
		return 0
	}
	return C.int(sel(C.GoString(name)))
}
