package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
)

// TestBackendClientLoad runs the client-side rows' load on every compiled
// backend against the crypto/tls test server: full handshakes never
// resume, resumed ones do after a worker's first connection.
func TestBackendClientLoad(t *testing.T) {
	addr := startTestServer(t, "ecdsa")
	for _, backend := range tls.Names() {
		for _, tt := range []struct {
			version string
			resume  bool
		}{{"1.3", false}, {"1.2", false}, {"1.3", true}} {
			name := backend + " " + tt.version
			if tt.resume {
				name += " resume"
			}
			t.Run(name, func(t *testing.T) {
				workers, err := backendWorkers(addr, backend, tt.version, tt.resume)
				require.NoError(t, err)
				res := handshakeLoad(workers, 2, 100*time.Millisecond, 300*time.Millisecond)
				require.Positive(t, res.OK, "first error: %s", res.FirstErr)
				assert.Zero(t, res.Errors, res.FirstErr)
				if tt.resume {
					assert.Positive(t, res.Resumed)
				} else {
					assert.Zero(t, res.Resumed)
				}
			})
		}
	}
	_, err := backendWorkers(addr, "nope", "1.3", false)
	assert.Error(t, err)
}
