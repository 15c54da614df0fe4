//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include "shim.h"
import "C"

import "runtime"

// Session is one reference on a client SSL_SESSION, which NewConn offers
// for resumption. Its owner (a session cache) closes it; it is not safe for
// concurrent use, and must stay open while NewConn uses it.
type Session struct {
	p       *C.SSL_SESSION
	cleanup runtime.Cleanup
}

func newSession(p *C.SSL_SESSION) *Session {
	s := &Session{p: p}
	s.cleanup = runtime.AddCleanup(s, func(p *C.SSL_SESSION) { C.gantry_session_free(p) }, p)
	return s
}

// Close drops the reference; a Conn resuming it holds its own.
func (s *Session) Close() {
	if s.p == nil {
		return
	}
	s.cleanup.Stop()
	C.gantry_session_free(s.p)
	s.p = nil
}
