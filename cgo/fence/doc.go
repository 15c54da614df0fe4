// Package fence keeps memory-unsafe code inside cgo/.
//
// Its test walks the whole repository and fails when a Go file outside cgo/
// imports "C" or "unsafe", so the audit surface of Gantry stays one
// directory. The detector parses imports with go/parser, so a comment that
// merely mentions either package does not count.
//
// This package must never be imported by the proxy or any backend, and
// must never itself use cgo or unsafe.
package fence
