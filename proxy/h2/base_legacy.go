//go:build !go1.27 || http2legacy

package h2

import "net/http"

// baseConfig is the http.Server x/net's own HTTP/2 server takes its limits
// from (MaxHeaderBytes bounds header blocks). Its graceful shutdown reaches
// the connection through the state ConfigureServer set up on s.srv either
// way.
func (s *Server) baseConfig() *http.Server { return s.base }
