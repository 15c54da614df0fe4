// Package proxy is Gantry's reverse proxy core. Downstream, in order: accept
// → connection filter (remote address, per-IP limit, hook) → optional PROXY
// protocol header → TLS through the listener's backend (tls seam) under the
// handshake timeout → ALPN picks HTTP/2 (x/net/http2, confined to
// h2compat.go) or HTTP/1.1 (proxy/h1, one goroutine per connection, no
// hand-offs) → request validation and limits → hooks (Hooks) → routing and
// balancing (router.go) → a pooled upstream connection over HTTP/1.1 or
// HTTP/2, plain or TLS → the response streamed back, trailers included.
// Both protocols meet in Session. CONNECT, WebSocket upgrades, access logs
// with redaction and graceful shutdown are here too; Options is the whole
// configuration.
//
// This package must never name a TLS backend in code (backends are looked
// up by the name the configuration gives), never import cgo or unsafe,
// never forward a request whose framing is ambiguous, never wait on the
// network without a deadline, never retry a request that may have reached a
// server unless it is idempotent and nothing of its body was consumed, and
// never log a body or the value of a credential-bearing header.
package proxy
