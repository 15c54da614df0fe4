// Command headerauth embeds Gantry's proxy with two hooks: a request filter
// that refuses requests without the right bearer token, and an upstream
// request filter that replaces the token by a header naming the proxy, so
// the origin never sees the client's credential.
//
//	go run ./examples/headerauth -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000 -token s3cret
//	curl -H 'Authorization: Bearer s3cret' http://127.0.0.1:8080/
//
// With -cert and -key it serves TLS (HTTP/2 and HTTP/1.1) through the gostd
// backend.
//
// It must never forward the client's Authorization header upstream, nor log
// it: the access log redacts it.
package main
