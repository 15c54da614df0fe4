package metrics

import (
	stdtls "crypto/tls"
	"testing"
	"time"
)

// BenchmarkRequestPath is what the proxy pays per connection-and-request:
// the calls it makes on the hot path, from parallel goroutines as in
// production.
func BenchmarkRequestPath(b *testing.B) {
	m := New(Build{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ConnOpen("public", 1)
			m.Handshake("public", "gostd", stdtls.VersionTLS13, stdtls.TLS_AES_128_GCM_SHA256, time.Millisecond, nil)
			m.Request("public", "api", 200, 2*time.Millisecond)
			m.ConnOpen("public", -1)
		}
	})
}

// BenchmarkRequest is the per-request cost alone (keep-alive connections
// make many requests per handshake).
func BenchmarkRequest(b *testing.B) {
	m := New(Build{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("public", "api", 200, 2*time.Millisecond)
		}
	})
}
