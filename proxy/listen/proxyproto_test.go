package listen

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func proxyV2(cmd byte, src [4]byte, port uint16) []byte {
	b := append([]byte(nil), proxyV2Sig...)
	b = append(b, 0x20|cmd, 0x11, 0, 12)
	b = append(b, src[:]...)
	b = append(b, 10, 0, 0, 1)
	b = binary.BigEndian.AppendUint16(b, port)
	b = binary.BigEndian.AppendUint16(b, 443)
	return b
}

func TestProxyProtocolTrusts(t *testing.T) {
	pp, err := NewProxyProtocol(ProxyProtocolOptions{Enabled: true, Trusted: []string{"10.1.0.0/16", "2001:db8::7", "::ffff:192.0.2.9"}})
	require.NoError(t, err)
	for addr, want := range map[string]bool{
		"10.1.2.3":        true,
		"10.2.0.1":        false,
		"2001:db8::7":     true,
		"2001:db8::8":     false,
		"192.0.2.9":       true,
		"::ffff:10.1.0.1": true,
		"198.51.100.1":    false,
	} {
		assert.Equal(t, want, pp.Trusts(&net.TCPAddr{IP: net.ParseIP(addr), Port: 1}), addr)
	}
	assert.False(t, pp.Trusts(&net.UnixAddr{Name: "/x", Net: "unix"}), "an address that cannot be judged is not trusted")

	off, err := NewProxyProtocol(ProxyProtocolOptions{Trusted: []string{"nonsense"}})
	require.NoError(t, err, "nothing is compiled when disabled")
	assert.Nil(t, off)
}

func TestProxyProtocolAnyPeer(t *testing.T) {
	pp, err := NewProxyProtocol(ProxyProtocolOptions{Enabled: true, Trusted: []string{"0.0.0.0/0", "::/0"}})
	require.NoError(t, err)
	assert.True(t, pp.Trusts(&net.TCPAddr{IP: net.ParseIP("203.0.113.1")}))
	assert.True(t, pp.Trusts(&net.TCPAddr{IP: net.ParseIP("2001:db8::1")}))
}

func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\nGET"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(proxyV2(1, [4]byte{1, 2, 3, 4}, 5))
	f.Add([]byte("\x16\x03\x01"))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() {
			_, _ = b.Write(in)
			_ = b.Close()
		}()
		_ = a.SetDeadline(time.Now().Add(time.Second))
		c, err := readProxyHeader(a)
		if err == nil {
			// Whatever followed the header is replayed intact.
			rest, _ := io.ReadAll(c)
			assert.LessOrEqual(t, len(rest), len(in))
		}
	})
}
