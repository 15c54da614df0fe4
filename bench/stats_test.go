package bench

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		samples []float64
		want    Summary
		ok      bool
	}{
		{"empty", nil, Summary{}, false},
		{"only NaN", []float64{math.NaN()}, Summary{}, false},
		{"one", []float64{7}, Summary{Median: 7, Min: 7, Max: 7, N: 1}, true},
		{"odd count unsorted", []float64{30, 10, 20}, Summary{Median: 20, Min: 10, Max: 30, N: 3}, true},
		{"even count", []float64{4, 1, 3, 2}, Summary{Median: 2.5, Min: 1, Max: 4, N: 4}, true},
		{"NaN and Inf ignored", []float64{5, math.NaN(), 1, math.Inf(1), 3}, Summary{Median: 3, Min: 1, Max: 5, N: 3}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Summarize(tt.samples)
			require.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5} // 1..10, shuffled
	tests := []struct {
		p    float64
		want float64
	}{
		{0, 1},
		{-5, 1},
		{100, 10},
		{250, 10},
		{50, 5.5},
		{90, 9.1},
		{99, 9.91},
		{25, 3.25},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, Percentile(xs, tt.p), 1e-9, "p%v", tt.p)
	}
	assert.Equal(t, []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, xs, "input must not be reordered")
	assert.True(t, math.IsNaN(Percentile(nil, 50)))
	assert.Equal(t, 42.0, Percentile([]float64{42}, 99))
	assert.Equal(t, 2.0, Median([]float64{3, 1, 2}))
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"0", []int{0}, false},
		{"0-2", []int{0, 1, 2}, false},
		{"1,3-4", []int{1, 3, 4}, false},
		{"x", nil, true},
		{"3-1", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if tt.wantErr {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestBusyPct(t *testing.T) {
	a := cpuSample{0: {100, 1000, 90}, 1: {500, 1000, 400}}
	b := cpuSample{0: {190, 1100, 170}, 1: {550, 1100, 440}}
	assert.InDelta(t, 90, busyPct(a, b, []int{0}), 1e-9)
	assert.InDelta(t, 50, busyPct(a, b, []int{1}), 1e-9)
	assert.InDelta(t, 70, busyPct(a, b, []int{0, 1}), 1e-9)
	assert.Equal(t, 0.0, busyPct(a, a, []int{0}), "no time passed")
	assert.NotEmpty(t, readCPU(), "/proc/stat has per-CPU lines")
}
