//go:build !go1.27 || http2legacy

package proxy

import "net/http"

// h2BaseConfig is the http.Server x/net's own HTTP/2 server takes its limits
// from (MaxHeaderBytes bounds header blocks). Its graceful shutdown reaches
// the connection through the state ConfigureServer set up on l.h2 either way.
func h2BaseConfig(l *listener) *http.Server { return l.h1base }
