package tlstest

import (
	"io"
	"testing"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

// BenchmarkSmallRecords measures what a proxy pays per request on a kept
// connection: srv answers every 1 KiB the client cli writes with 1 KiB of
// its own, one record each way, over loopback TCP. cpu-µs/op is the whole
// process (both ends).
func BenchmarkSmallRecords(b *testing.B, srv, cli tls.Backend) {
	const size = 1 << 10
	sc, cc := openPair(b, srv, cli)
	_ = sc.SetDeadline(time.Time{})
	_ = cc.SetDeadline(time.Time{})
	go func() {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(sc, buf); err != nil {
				return
			}
			if _, err := sc.Write(buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, size)
	cpu := startCPU()
	defer cpu.report(b)
	b.ResetTimer()
	for range b.N {
		if _, err := cc.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cc, buf); err != nil {
			b.Fatal(err)
		}
	}
}
