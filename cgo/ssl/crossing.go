//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// cbytes returns a C view of a Go byte slice for the duration of one call;
// the shim never keeps it.
func cbytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// libCall runs one shim call that returns 1 on success and turns any other
// result into an error carrying the library's error queue. The queue is per
// OS thread, so the goroutine stays on one thread from clearing the queue
// to reading it.
func libCall(what string, call func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.gantry_clear_errors()
	if call() == 1 {
		return nil
	}
	var buf [C.GANTRY_ERR_LEN]C.char
	C.gantry_errors(&buf[0], C.size_t(len(buf)), nil)
	msg := C.GoString(&buf[0])
	if msg == "" {
		msg = "failed"
	}
	return fmt.Errorf("%s: %s: %s", Flavor, what, msg)
}

// connError is the error text a gantry_conn call left in its struct.
func connError(k *C.gantry_conn) error { return errors.New(C.GoString(&k.err[0])) }
