package upstream

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testGroup(t *testing.T, balance string, n int) *Group {
	t.Helper()
	o := &GroupOptions{Balance: balance}
	for i := range n {
		o.Addrs = append(o.Addrs, fmt.Sprintf("127.0.0.1:%d", 10000+i))
	}
	require.NoError(t, o.validate("g"))
	g, err := newGroup("g", o, nil, nil)
	require.NoError(t, err)
	return g
}

func TestBalancers(t *testing.T) {
	t.Run("round robin takes servers in turn, skipping ejected ones", func(t *testing.T) {
		g := testGroup(t, "", 3)
		var got []int
		for range 6 {
			got = append(got, g.Choose().Index())
		}
		assert.Equal(t, []int{0, 1, 2, 0, 1, 2}, got)
		g.Servers()[1].ejectedUntil.Store(time.Now().Add(time.Minute).UnixNano())
		for range 6 {
			assert.NotEqual(t, 1, g.Choose().Index())
		}
	})
	t.Run("least conn takes the least loaded", func(t *testing.T) {
		g := testGroup(t, BalanceLeastConn, 3)
		g.Servers()[0].inflight.Store(5)
		g.Servers()[1].inflight.Store(1)
		g.Servers()[2].inflight.Store(3)
		for range 5 {
			assert.Equal(t, 1, g.Choose().Index())
		}
	})
	t.Run("all ejected: any server rather than none", func(t *testing.T) {
		g := testGroup(t, BalanceLeastConn, 2)
		for _, s := range g.Servers() {
			s.unhealthy.Store(true)
		}
		assert.NotNil(t, g.Choose())
		assert.Nil(t, g.ChooseExcept(g.Servers()[0]))
	})
	t.Run("unknown policy", func(t *testing.T) {
		_, err := NewBalancer("random")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"random"`)
	})
}

func TestPassiveEjection(t *testing.T) {
	g := testGroup(t, "", 2)
	g.maxFails = 2
	s := g.Servers()[0]
	s.result(errors.New("refused"))
	assert.True(t, s.available(time.Now().UnixNano()), "one failure of two allowed")
	s.result(errors.New("refused"))
	assert.False(t, s.available(time.Now().UnixNano()))
	assert.True(t, s.EjectedUntil().After(time.Now()))
}

func TestUnprocessed(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("http2: Transport received Server's graceful shutdown GOAWAY"), true},
		{fmt.Errorf("wrapped: %w", errors.New("http2: client conn not usable")), true},
		{errors.New("http2: Transport received GOAWAY from server ErrCode:PROTOCOL_ERROR"), false},
		{errors.New("EOF"), false},
	} {
		assert.Equal(t, tc.want, unprocessed(tc.err), tc.err.Error())
	}
}
