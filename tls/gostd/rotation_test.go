package gostd

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// TestTicketKeyRotation drives the automatic rotation used when no keys are
// configured: a ticket survives a rotation, and expires once its key has
// rotated out.
func TestTicketKeyRotation(t *testing.T) {
	p := tlstest.NewPKI(t)
	srv, err := Backend().NewServer(&tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}})
	require.NoError(t, err)
	s := srv.(*server)
	require.NotNil(t, s.rotation)
	cli, err := Backend().NewClient(&tls.ClientConfig{RootCAs: p.Roots()})
	require.NoError(t, err)

	resumed := func() bool {
		r := tlstest.Exchange(t, srv, cli, tlstest.NameECDSA)
		require.NoError(t, r.ServerErr)
		require.NoError(t, r.ClientErr)
		return r.Server.DidResume
	}
	require.False(t, resumed())
	require.True(t, resumed(), "tickets resume across conns of one Server")

	now := time.Now()
	require.NoError(t, s.rotation.rotate(s.config, now)) // not due yet
	assert.Len(t, s.rotation.keys, 1)
	now = now.Add(ticketKeyPeriod + time.Minute)
	require.NoError(t, s.rotation.rotate(s.config, now))
	assert.Len(t, s.rotation.keys, 2)
	assert.True(t, resumed(), "a ticket sealed before a rotation still opens")

	// The last conn's ticket was sealed with the newest key; rotate it out.
	for range ticketKeysKept {
		now = now.Add(ticketKeyPeriod + time.Minute)
		require.NoError(t, s.rotation.rotate(s.config, now))
	}
	assert.Len(t, s.rotation.keys, ticketKeysKept, "old keys are dropped")
	assert.False(t, resumed(), "a ticket whose key rotated out gives a full handshake")
}

func TestNoRotationWithConfiguredKeys(t *testing.T) {
	p := tlstest.NewPKI(t)
	for _, cfg := range []*tls.ServerConfig{
		{Certificates: []tls.Certificate{p.ServerECDSA}, SessionTicketKeys: []tls.SessionTicketKey{{1}}},
		{Certificates: []tls.Certificate{p.ServerECDSA}, DisableSessionTickets: true},
	} {
		srv, err := Backend().NewServer(cfg)
		require.NoError(t, err)
		assert.Nil(t, srv.(*server).rotation)
	}
}
