// Package h2 is the HTTP/2 server side of Gantry's proxy, the sibling of
// proxy/h1: the per-listener server (x/net's today, confined to
// compat.go), the write wrapper that coalesces its frames into few TLS
// records, the rewrite that makes idle-stream resets carry CANCEL, the
// rapid-reset guard, warm workers for stream handlers, and the conversion
// between net/http header maps and h1.Header.
//
// It must never import the proxy or know what a request is for: it serves
// streams to an http.Handler it is given. It must never let a client make
// it buffer without bound (writes past the queue limit wait), never write
// to a client without a deadline, and never change a frame beyond the one
// error-code byte of an idle stream's reset.
package h2
