package h2

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWarmPoolRunsToCompletion(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wp := NewWarmPool(ctx)
	var wg sync.WaitGroup
	var sum atomic.Int64
	for i := 1; i <= 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ran := false
			wp.Run(func() { ran = true; sum.Add(int64(i)) })
			// run returns only after f returned, so f's writes are visible.
			assert.True(t, ran)
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(200*201/2), sum.Load())
	assert.LessOrEqual(t, wp.idle.Load(), int32(warmMaxIdle))
}

func TestWarmPoolPanicReachesCaller(t *testing.T) {
	tests := []struct {
		name string
		val  any
	}{
		{"abort handler sentinel", "abort"},
		{"error value", assert.AnError},
	}
	wp := NewWarmPool(context.Background())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := func() (v any) {
				defer func() { v = recover() }()
				wp.Run(func() { panic(tt.val) })
				return nil
			}()
			require.Equal(t, tt.val, got)
			// The worker survived the panic and serves the next job.
			ok := false
			wp.Run(func() { ok = true })
			assert.True(t, ok)
		})
	}
}

func TestWarmPoolWorkersEndWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wp := NewWarmPool(ctx)
	wp.Run(func() {})
	cancel()
	// After the proxy's context ends, work still runs (on a fresh worker
	// if the idle ones left) and run still returns.
	done := false
	wp.Run(func() { done = true })
	assert.True(t, done)
}
