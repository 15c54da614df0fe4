package clienthello

import (
	"bytes"
	stdtls "crypto/tls"
	"net"
	"testing"
)

// goHelloRecords is the record crypto/tls sends as a client, read off a
// pipe: a typical modern hello (TLS 1.3, post-quantum key share, ALPN).
func goHelloRecords(tb testing.TB) []byte {
	tb.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		defer c.Close()
		_ = stdtls.Client(c, &stdtls.Config{ServerName: "bench.example", NextProtos: []string{"h2", "http/1.1"}}).Handshake()
	}()
	_, raw, err := Read(s, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// BenchmarkReadJA4 is what inspection adds to each handshake: reading and
// parsing the hello, then its fingerprint.
func BenchmarkReadJA4(b *testing.B) {
	raw := goHelloRecords(b)
	r := bytes.NewReader(raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(raw)
		h, _, err := Read(r, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(h.JA4()) != 36 {
			b.Fatal("bad JA4")
		}
	}
}
