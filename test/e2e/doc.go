// Package e2e holds Gantry's end-to-end tests: real clients (curl, h2spec)
// against the real proxy, in-process and as the built `gantry` binary, for
// every pair of downstream and upstream TLS backends compiled into the test.
//
// The tests listen on 127.0.0.1 only, pick free ports, and bound every
// process they start with a deadline. They must never reach beyond the
// loopback interface, and never leave processes or files behind.
package e2e
