//go:build go1.27 && !http2legacy

package proxy

import "net/http"

// h2BaseConfig is nil from Go 1.27 on, where x/net's HTTP/2 server wraps
// net/http's: given a BaseConfig, it serves the connection from a one-off
// copy of that server, which l.h1base.Shutdown never reaches, so a draining
// proxy would send no GOAWAY and wait for clients to hang up. Without one it
// serves through l.h1base itself, set up by ConfigureServer (limits, and the
// shutdown that sends GOAWAY).
func h2BaseConfig(*listener) *http.Server { return nil }
