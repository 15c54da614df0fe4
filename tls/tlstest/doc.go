// Package tlstest is the conformance suite every Gantry TLS backend must
// pass, the interoperability matrix across backends, and the shared
// handshake and throughput benchmarks.
//
// A backend package calls Run from one test, Interop with every backend the
// binary has, and BenchmarkHandshake and BenchmarkThroughput from its
// benchmarks. The cases speak only through the tls seam, so the same suite
// judges crypto/tls, OpenSSL and BoringSSL; where an adversary is needed it
// is a raw crypto/tls peer with deliberately weak settings.
//
// A backend package's whole test file is typically:
//
//	func TestConformance(t *testing.T) { tlstest.Run(t, Backend()) }
//	func TestInterop(t *testing.T)     { tlstest.Interop(t, tls.Backends()...) }
//	func BenchmarkHandshake(b *testing.B)  { tlstest.BenchmarkHandshake(b, Backend()) }
//	func BenchmarkThroughput(b *testing.B) { tlstest.BenchmarkThroughput(b, Backend()) }
//
// Failures name the group and case, e.g. TestConformance/ClientAuth/
// require-and-verify/Untrusted, and -run selects them the same way.
//
// This package is for tests only: it must never be imported by production
// code, never write keys to disk (every certificate is minted in memory),
// and never let a broken backend hang a test (every blocking step has a
// deadline).
package tlstest
