package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCPUPasses(t *testing.T) {
	ps, err := cpuPasses(Options{CPUCounts: []int{1, 2}}, 2)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, "0", ps[0].server)
	assert.Equal(t, "1", ps[0].load)
	assert.Equal(t, "0-1", ps[1].server)
	assert.Equal(t, "0-1", ps[1].load, "all CPUs: subject and load share them")
	assert.Equal(t, 2, ps[1].workers)

	ps, err = cpuPasses(Options{CPUCounts: []int{2}}, 4)
	require.NoError(t, err)
	assert.Equal(t, "0-1", ps[0].server)
	assert.Equal(t, "2-3", ps[0].load)

	_, err = cpuPasses(Options{CPUCounts: []int{3}}, 2)
	assert.ErrorContains(t, err, "2 CPUs")

	ps, err = cpuPasses(Options{ServerCPUs: "0", LoadCPUs: "1"}, 2)
	require.NoError(t, err)
	assert.Equal(t, 1, ps[0].cpus, "no sweep: one pass on the given lists")
}

func TestMetricAtCPUs(t *testing.T) {
	assert.Equal(t, MetricH1RPS, AtCPUs(MetricH1RPS, 1))
	id := AtCPUs(MetricH1RPS, 2)
	assert.Equal(t, "h1_rps@2cpu", id)
	m, ok := MetricByID(id)
	require.True(t, ok)
	assert.Equal(t, 2, m.CPUs)
	assert.Equal(t, "h1 proxied · 2 CPUs", m.Label)
	_, ok = MetricByID("h1_rps@xcpu")
	assert.False(t, ok)

	r := &Report{Schema: SchemaVersion, Runs: 1}
	r.AddSample(MetricH1RPS, "gostd", 100, cpuUse{Subject: 0.5})
	r.AddSample(id, "gostd", 150, cpuUse{Subject: 1})
	got := presentMetrics(r)
	require.Len(t, got, 2)
	assert.Equal(t, "h1 proxied · 1 CPU", got[0].Label, "a sweep labels its one-CPU rows too")
	assert.InDelta(t, 5000, r.Find(MetricH1RPS, "gostd").CPUPerOp[0], 1e-9, "0.5 cores at 100 req/s: 5 ms per request")

	m, ok = MetricByID("client_hs_full_ecdsa_tls13")
	require.True(t, ok)
	assert.Equal(t, "client handshakes", m.Kind())
	m, _ = MetricByID(AtCPUs(MetricH2P50, 2))
	assert.Equal(t, "latency p50", m.Kind())
	m, _ = MetricByID(MetricH2P99)
	assert.Equal(t, "latency p99", m.Kind())
}
