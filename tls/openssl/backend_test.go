//go:build openssl

package openssl

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/gostd"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func TestConformance(t *testing.T) { tlstest.Run(t, Backend()) }

func TestInterop(t *testing.T) { tlstest.Interop(t, tls.Backends()...) }

func BenchmarkHandshake(b *testing.B) { tlstest.BenchmarkHandshake(b, Backend()) }

func BenchmarkThroughput(b *testing.B) { tlstest.BenchmarkThroughput(b, Backend()) }

// TestMain lets BenchmarkServerCPU re-run this binary as its server.
func TestMain(m *testing.M) {
	tlstest.ServeChild(gostd.Backend(), Backend())
	os.Exit(m.Run())
}

// BenchmarkServerSide and BenchmarkServerCPU put this backend's server next
// to gostd's, both facing the same gostd client: the proxy's side of TLS.
func BenchmarkServerSide(b *testing.B) {
	tlstest.BenchmarkServerSide(b, gostd.Backend(), gostd.Backend(), Backend())
}

func BenchmarkServerCPU(b *testing.B) {
	tlstest.BenchmarkServerCPU(b, gostd.Backend(), gostd.Backend(), Backend())
}

// The handshake fuzzers live in tlstest so that every backend is fuzzed by
// the same harness; the seed corpus runs as part of the ordinary test run.
func FuzzServerHandshake(f *testing.F) { tlstest.FuzzServerHandshake(f, Backend()) }

func FuzzClientHandshake(f *testing.F) { tlstest.FuzzClientHandshake(f, Backend()) }

func TestRegistered(t *testing.T) {
	b, err := tls.Lookup("openssl")
	require.NoError(t, err)
	assert.Equal(t, "openssl", b.Name())
	assert.Contains(t, b.Library(), "OpenSSL")
	caps := b.Capabilities()
	assert.Equal(t, []uint16{tls.VersionTLS12, tls.VersionTLS13}, caps.Versions)
	for _, g := range []tls.Group{tls.X25519, tls.P256, tls.P384} {
		assert.True(t, caps.HasGroup(g), "%s", g)
	}
	// Debian's builds lack the post-quantum hybrid; Capabilities must say so.
	assert.False(t, caps.HasGroup(tls.X25519MLKEM768))
}

// BenchmarkSmallRecords puts this backend's server next to gostd's for one
// 1 KiB record each way per operation: the per-request cost of a proxy.
func BenchmarkSmallRecords(b *testing.B) {
	tlstest.BenchmarkSmallRecords(b, gostd.Backend(), gostd.Backend(), Backend())
}
