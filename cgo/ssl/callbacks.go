//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include "shim.h"
import "C"

import (
	"bytes"
	"errors"
	"runtime/cgo"
	"unsafe"

	gtls "github.com/gantry-proxy/gantry/tls"
)

const alertInternalError = 80

// gantryVerifyPeer runs the shared Go verifier on the peer's chain during
// the handshake and returns the alert to send, or 0 to accept.
//
//export gantryVerifyPeer
func gantryVerifyPeer(h C.uintptr_t, chain *C.uint8_t, n C.size_t) (alert C.int) {
	// A panic must not unwind through the library's C frames.
	defer func() {
		if recover() != nil {
			alert = alertInternalError
		}
	}()
	ps, ok := cgo.Handle(h).Value().(*peerState)
	if !ok {
		return alertInternalError
	}
	// x509 keeps slices of its input, and the C buffer dies after the call.
	var blob []byte
	if n > 0 {
		blob = bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(chain)), int(n)))
	}
	ders, err := decodeChain(blob)
	if err != nil {
		ps.err = &gtls.VerifyError{Alert: gtls.AlertBadCertificate, Err: err}
		return C.int(gtls.AlertBadCertificate)
	}
	certs, chains, err := ps.verifier.Verify(ders, ps.serverName)
	ps.certs, ps.chains, ps.verified = certs, chains, true
	if err != nil {
		ps.err = err
		var ve *gtls.VerifyError
		if errors.As(err, &ve) {
			return C.int(ve.Alert)
		}
		return C.int(gtls.AlertCertificateUnknown)
	}
	return 0
}

// gantrySelectCert returns the index of the certificate to serve for the
// SNI name.
//
//export gantrySelectCert
func gantrySelectCert(h C.uintptr_t, name *C.char) (idx C.int) {
	defer func() {
		if recover() != nil {
			idx = 0
		}
	}()
	sel, ok := cgo.Handle(h).Value().(*certSelector)
	if !ok || name == nil {
		return 0
	}
	return C.int(sel.pick(C.GoString(name)))
}
