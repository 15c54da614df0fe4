package main

import (
	"context"
	"io"

	"github.com/gantry-proxy/gantry/bench"
)

func init() {
	register(command{
		Name:    "bench",
		Summary: "benchmark the compiled-in TLS backends (handshakes, bulk, proxied req/s, memory)",
		Run:     runBench,
	})
}

// runBench hands over to package bench, which also runs the server, load and
// origin children it starts as `gantry bench server|load|origin`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return bench.Main(ctx, args, stdout, stderr)
}
