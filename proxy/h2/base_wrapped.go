//go:build go1.27 && !http2legacy

package h2

import "net/http"

// baseConfig is nil from Go 1.27 on, where x/net's HTTP/2 server wraps
// net/http's: given a BaseConfig, it serves the connection from a one-off
// copy of that server, which s.base.Shutdown never reaches, so a draining
// proxy would send no GOAWAY and wait for clients to hang up. Without one it
// serves through s.base itself, set up by ConfigureServer (limits, and the
// shutdown that sends GOAWAY).
func (*Server) baseConfig() *http.Server { return nil }
