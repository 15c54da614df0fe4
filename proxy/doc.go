// Package proxy is Gantry's reverse proxy core: Options (the whole
// configuration, with the YAML keys of the schema), Session (one request,
// whatever the protocol on either side), Hooks, and the request pipeline.
//
// Downstream, in order: accept → connection filter and PROXY protocol trust
// (proxy/listen, remote address only) → optional PROXY header → TLS
// through the listener's backend (tls seam) under the handshake timeout →
// ALPN picks HTTP/2 (proxy/h2, downstream_h2.go builds the Session) or
// HTTP/1.1 (proxy/h1, downstream_h1.go: one goroutine per connection, no
// hand-offs) → intake (intake.go: owned headers removed and the proxy's
// forwarding values computed, owned.go; the path made canonical,
// proxy/canon) → validation and limits (validate.go) → hooks → routing
// (router.go over a compiled index, routeindex.go) → the upstream client (proxy/upstream: pools, balancing,
// health, HTTP/1.1 or HTTP/2, plain or TLS) → the response streamed back,
// trailers included (forward.go). CONNECT and WebSocket tunnels, access
// logs with redaction and graceful shutdown are here too.
//
// The sub-packages never import this one. This package must never name a
// TLS backend in code (backends are looked up by the name the
// configuration gives, the default by gantrytls.DefaultBackend), never
// import cgo or unsafe, never forward a request whose framing is
// ambiguous, never wait on the network without a deadline, never retry a
// request that may have reached a server unless it is idempotent and
// nothing of its body was consumed, never expose an upstream connection
// through Session, and never log a body or the value of a
// credential-bearing header.
package proxy
