// Package listen is the accepting side of Gantry's proxy: what happens to a
// connection between accept and the first TLS byte. The connection filter
// (CIDR allow and deny lists, per-client connection and rate limits, with
// IPv6 clients counted by prefix), the PROXY protocol (v1 and v2, from
// trusted load balancers only), and the hand-off of listening sockets to a
// new process (SCM_RIGHTS over a Unix socket) for restarts that refuse no
// connection.
//
// It must never read from a connection it is about to refuse (the filter
// and the trust check judge the remote address alone), never let the
// tables it keeps per client grow with the number of addresses a single
// client can use, never accept a PROXY header from a peer not listed as a
// trusted balancer, and never depend on the proxy or on a TLS backend: the
// proxy imports it, not the other way round.
package listen
