package sslconn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gtls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// These tests check how a Gantry config is put into the library's terms,
// against the fake library of fake_engine_test.go.

func TestServerContext(t *testing.T) {
	p := tlstest.NewPKI(t)
	lib := &fakeLibrary{}
	caps := Probe(lib)()
	assert.False(t, caps.HasGroup(gtls.X25519MLKEM768), "a group the library lacks is never offered")
	for _, tc := range []struct {
		auth gtls.ClientAuthMode
		mode VerifyMode
	}{
		{gtls.ClientAuthNone, VerifyNone},
		{gtls.ClientAuthRequest, VerifyPeer},
		{gtls.ClientAuthVerifyIfGiven, VerifyPeer},
		{gtls.ClientAuthRequire, VerifyRequire},
		{gtls.ClientAuthRequireAndVerify, VerifyRequire},
	} {
		t.Run(tc.auth.String(), func(t *testing.T) {
			cfg := &gtls.ServerConfig{
				Certificates: []gtls.Certificate{p.ServerECDSA, p.ServerRSA},
				ALPN:         []string{"h2", "http/1.1"},
				ClientAuth:   tc.auth,
				ClientCAs:    p.Roots(),
			}
			s, err := NewServer(lib, caps, cfg)
			require.NoError(t, err)
			defer s.Close()
			cc := lib.contexts[len(lib.contexts)-1]
			assert.True(t, cc.Server)
			assert.Equal(t, tc.mode, cc.Verify)
			assert.Equal(t, []byte("\x02h2\x08http/1.1"), cc.ALPN)
			assert.Len(t, cc.Certs, 2)
			assert.Len(t, cc.TicketKeys, 80, "one random ticket key")
			assert.Len(t, cc.SessionIDContext, 32)
			if tc.auth == gtls.ClientAuthNone {
				assert.Empty(t, cc.ClientCAs)
			} else {
				assert.Len(t, cc.ClientCAs, len(p.Roots()))
			}
			require.NotNil(t, cc.Select)
			assert.Equal(t, 1, cc.Select(tlstest.NameRSA))
			assert.Equal(t, 0, cc.Select("elsewhere.test"))
		})
	}
}

func TestServerContextWipesSecrets(t *testing.T) {
	p := tlstest.NewPKI(t)
	lib := &wipeCheck{}
	s, err := NewServer(lib, Probe(lib)(), &gtls.ServerConfig{Certificates: []gtls.Certificate{p.ServerECDSA}})
	require.NoError(t, err)
	defer s.Close()
	require.NotNil(t, lib.seen)
	assert.Equal(t, make([]byte, len(lib.seen.Certs[0].Key)), lib.seen.Certs[0].Key, "the encoded key is wiped")
	assert.Equal(t, make([]byte, 80), lib.seen.TicketKeys, "the ticket keys are wiped")
	assert.Nil(t, lib.seen.Select, "one certificate needs no selection")
}

// wipeCheck keeps the very ContextConfig it was given, not a copy.
type wipeCheck struct {
	fakeLibrary
	seen *ContextConfig
}

func (w *wipeCheck) NewContext(cc *ContextConfig) (Context, error) {
	w.seen = cc
	return &fakeContext{}, nil
}

func TestClientContext(t *testing.T) {
	p := tlstest.NewPKI(t)
	lib := &fakeLibrary{}
	c, err := NewClient(lib, Probe(lib)(), &gtls.ClientConfig{RootCAs: p.Roots(), DisableVerifyCert: true})
	require.NoError(t, err)
	cc := lib.contexts[0]
	assert.False(t, cc.Server)
	assert.Equal(t, VerifyPeer, cc.Verify, "the callback runs even with verification off")
	assert.True(t, cc.ClientSessions)
	assert.Empty(t, cc.TicketKeys)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")

	conn := c.Client(nil, "x.test")
	assert.ErrorIs(t, conn.HandshakeContext(t.Context()), errClosedEndpoint)
}
