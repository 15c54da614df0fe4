package sslconn

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type wrappedConn struct{ net.Conn }

func (w wrappedConn) NetConn() net.Conn { return w.Conn }

// The inline ticket write is only for sockets: over an unbuffered pipe it
// would wait for a client that is itself waiting to write.
func TestKernelBuffered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	tcp, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer tcp.Close()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()

	assert.True(t, kernelBuffered(tcp))
	assert.True(t, kernelBuffered(wrappedConn{wrappedConn{tcp}}))
	assert.False(t, kernelBuffered(a))
	assert.False(t, kernelBuffered(wrappedConn{a}))
	deep := net.Conn(tcp)
	for range 10 {
		deep = wrappedConn{deep}
	}
	assert.False(t, kernelBuffered(deep), "unwrapping is bounded")
}
