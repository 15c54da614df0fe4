// Package canon puts a request path into the one canonical form that
// Gantry routes on and forwards, so that what a route matched is exactly
// what the upstream reads (RFC 3986 §6.2.2, RFC 9110 §4.2.3):
// percent-encoded unreserved characters decoded, the hex digits of the
// other escapes upper-cased, raw bytes that a path may not carry escaped,
// and dot-segments removed. The spellings origins disagree about — an
// encoded "/", a "\" raw or encoded, "%00", doubled slashes, broken
// escapes, escapes that decode to invalid UTF-8 — are refused or
// normalised as a Policy says.
//
// It is pure functions over strings: no I/O, no state, and no allocation
// when the path is already canonical. It must never return a path that
// climbs above the root, never decode an escape into a byte that changes
// the path's structure ("/", "\", ".", "?", "#") unless the Policy asked
// for exactly that, and never touch the query.
package canon
