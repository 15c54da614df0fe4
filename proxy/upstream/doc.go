// Package upstream is the origin side of Gantry's proxy: compiled upstream
// TLS clients, connection pools per server, dialing, the HTTP/1.1 client
// (over proxy/h1's codec) and the HTTP/2 client (x/net's, on connections
// this package dials and pools), server groups with balancing, passive and
// active health, and the retries that are safe. The proxy hands it a
// Request and streams the Response back; nothing here knows about
// downstream connections, hooks or routes.
//
// It must never import the proxy (the proxy imports it), never name a TLS
// backend in code (the default comes from package tls), never hand a pooled connection that
// has unsolicited bytes waiting to another request, never wait on the
// network without a deadline, and never send a request again unless no
// byte of it can have been processed: a pooled connection the server had
// closed, or an HTTP/2 stream the server refused or left above its GOAWAY,
// and then only idempotent requests whose body was not touched.
package upstream
