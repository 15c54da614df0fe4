// Package cgo is the fence around Gantry's memory-unsafe code.
//
// Everything that uses cgo (the C pseudo-package) or package unsafe lives
// below this directory and nowhere else in the module, so that the code an
// auditor must read for memory safety is small and in one place. Only what
// must touch C lives here, and it is a leaf: nothing below imports another
// Gantry package. The single C shim and its thin Go engine are in cgo/ssl,
// compiled against OpenSSL 3 (build tag openssl) or BoringSSL (build tag
// boringssl), never both: the two libraries export the same C symbols and
// cannot share one binary.
//
// Code here must never keep a Go pointer in C memory (callbacks go through
// runtime/cgo.Handle), never hold a lock while blocked on the network, and
// never let a C object outlive or precede its single Go owner.
package cgo
