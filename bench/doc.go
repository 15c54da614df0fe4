// Package bench is the engine behind `gantry bench`: it measures every TLS
// backend compiled into the binary on the same workloads and puts them side
// by side, optionally next to nginx and HAProxy.
//
// Workloads: full and resumed handshakes per second (ECDSA P-256 and
// RSA-2048 certificates, TLS 1.2 and 1.3), bulk throughput, proxied requests
// per second with latency percentiles for HTTP/1.1 and HTTP/2 through
// `gantry serve`, and memory per idle TLS connection. The server side runs as
// a child process pinned to one CPU and the load side as another child pinned
// to a different CPU, so the split is fixed and identical for every backend.
// The load side is always Go's crypto/tls (handshakes, bulk, idle
// connections) or wrk and h2load (proxied requests): only the server side
// changes between backends.
//
// Results are medians of repeated runs with their min and max; they are
// printed as a table, written as JSON, and drawn as an SVG chart normalised
// to the gostd backend. Reports of several binaries can be merged.
//
// This package must never be imported by the proxy or by a backend, never
// name a backend in code paths other than reporting (gostd is the reference
// for ratios), never assert on timing in tests, and never leave a child
// process running: every process it starts is stopped and reaped by it.
package bench
