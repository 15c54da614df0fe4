package upstream

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerStateReportedOnce: an ejection is reported when it starts,
// not for every failure while ejected, and the recovery once.
func TestServerStateReportedOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []ServerState
	tr := NewTransport(ctx, Settings{OnServerState: func(_, _ string, st ServerState, _ error) { got = append(got, st) }})
	defer tr.Close()
	g, err := tr.NewGroup("app", &GroupOptions{Addrs: []string{"127.0.0.1:9"}, Health: HealthOptions{MaxFails: 1}}, nil)
	require.NoError(t, err)
	s := g.Servers()[0]
	fail := errors.New("refused")
	for range 5 {
		s.result(fail)
	}
	s.result(nil)
	s.result(nil)
	assert.Equal(t, []ServerState{StateEjected, StateRecovered}, got)
}
