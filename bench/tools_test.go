package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Output shaped like wrk 4.1's, with made-up numbers.
const wrkOut = `Running 3s test @ https://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  300.00us   9.00ms   90.00%
    Req/Sec    20.00k     1.00k   22.00k    70.00%
  Latency Distribution
     50%  980.00us
     75%    1.20ms
     90%    1.50ms
     99%    2.50ms
  60000 requests in 3.00s, 70.00MB read
Requests/sec:  20000.50
Transfer/sec:     23.33MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOut)
	require.NoError(t, err)
	assert.InDelta(t, 20000.5, r.RPS, 1e-9)
	assert.InDelta(t, 0.98, r.P50ms, 1e-9)
	assert.InDelta(t, 2.5, r.P99ms, 1e-9)

	tests := []struct {
		name, out, errPart string
	}{
		{"no summary", "unable to connect to 127.0.0.1:1 Connection refused\n", "Requests/sec"},
		{"no latency", "Requests/sec:  10.0\n", "latency"},
		{"non-2xx", wrkOut + "  Non-2xx or 3xx responses: 12\n", "non-2xx"},
		{"connect errors", wrkOut + "  Socket errors: connect 3, read 0, write 0, timeout 0\n", "connect"},
	}
	for _, tt := range tests {
		_, err := parseWrk(tt.out)
		assert.ErrorContains(t, err, tt.errPart, tt.name)
	}
	_, err = parseWrk(wrkOut + "  Socket errors: connect 0, read 4, write 0, timeout 2\n")
	assert.NoError(t, err, "read errors and timeouts at the deadline are not failures")

	sec := `  Latency Distribution
     50%    1.00s
     99%    2.00s
Requests/sec:  5.00
`
	r, err = parseWrk(sec)
	require.NoError(t, err)
	assert.InDelta(t, 1000, r.P50ms, 1e-9)
	assert.InDelta(t, 2000, r.P99ms, 1e-9)
}

// Output shaped like h2load 1.52's, with made-up numbers.
const h2loadOut = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 1s warm-up time and 3s main duration
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Warm-up started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 4.00s, 30000.00 req/s, 33.00MB/s
requests: 90000 total, 90100 started, 90000 done, 90000 succeeded, 0 failed, 0 errored, 0 timeout
`

func TestParseH2load(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "h2.log")
	// start µs, status, duration µs: 1..100 ms for 2xx, plus a 502 that must
	// not count.
	var b []byte
	for i := 1; i <= 100; i++ {
		b = append(b, []byte("1700000000000000\t200\t"+strconv.Itoa(i*1000)+"\n")...)
	}
	b = append(b, []byte("1700000000000000\t502\t999999999\n")...)
	require.NoError(t, os.WriteFile(log, b, 0o600))

	r, err := parseH2load(h2loadOut, log)
	require.NoError(t, err)
	assert.InDelta(t, 30000, r.RPS, 1e-9)
	assert.InDelta(t, 50.5, r.P50ms, 1e-9)
	assert.InDelta(t, 99.01, r.P99ms, 1e-9)

	_, err = parseH2load("Application protocol: http/1.1\nfinished in 1s, 1 req/s\n", log)
	assert.ErrorContains(t, err, "h2")
	_, err = parseH2load(h2loadOut, filepath.Join(dir, "missing"))
	assert.Error(t, err)
	empty := filepath.Join(dir, "empty.log")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = parseH2load(h2loadOut, empty)
	assert.ErrorContains(t, err, "no successful request")
}
