package proxy

import (
	"bufio"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func proxyV2(cmd byte, src [4]byte, port uint16) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n") // the v2 signature
	b = append(b, 0x20|cmd, 0x11, 0, 12)
	b = append(b, src[:]...)
	b = append(b, 10, 0, 0, 1)
	b = binary.BigEndian.AppendUint16(b, port)
	b = binary.BigEndian.AppendUint16(b, 443)
	return b
}

func TestProxyProtocol(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	opts.Listeners[0].ProxyProtocol = ProxyProtocolOptions{Enabled: true, Trusted: []string{"127.0.0.1/32"}}
	_, addr := startProxy(t, opts)
	pki := tlstest.NewPKI(t)
	pool := x509.NewCertPool()
	for _, c := range pki.Roots() {
		pool.AddCert(c)
	}

	cases := []struct {
		name    string
		header  []byte
		wantXFF string // empty: the connection must be refused
	}{
		{"v1 TCP4", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n"), "203.0.113.7"},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n"), "2001:db8::7"},
		{"v1 UNKNOWN keeps the peer", []byte("PROXY UNKNOWN\r\n"), "127.0.0.1"},
		{"v2 PROXY", proxyV2(1, [4]byte{198, 51, 100, 9}, 40000), "198.51.100.9"},
		{"v2 LOCAL keeps the peer", proxyV2(0, [4]byte{198, 51, 100, 9}, 40000), "127.0.0.1"},
		{"missing header", nil, ""},
		{"bad v1", []byte("PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer raw.Close()
			require.NoError(t, raw.SetDeadline(time.Now().Add(10*time.Second)))
			if tc.header != nil {
				_, err = raw.Write(tc.header)
				require.NoError(t, err)
			}
			c := stdtls.Client(raw, &stdtls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
			err = c.Handshake()
			if tc.wantXFF == "" {
				assert.Error(t, err, "no TLS without a valid PROXY header")
				return
			}
			require.NoError(t, err)
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.wantXFF, resp.Header.Get("X-Got-XFF"))
		})
	}
}

// TestProxyProtocolUntrustedPeer: a connection from a peer that is not a
// trusted balancer is closed on accept, before its header (or anything)
// is read: the client sees the close at once, not after the handshake
// timeout a trusted peer would be given to send its header.
func TestProxyProtocolUntrustedPeer(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, ""), nil)
	opts.Timeouts.TLSHandshake = time.Minute
	opts.Listeners[0].ProxyProtocol = ProxyProtocolOptions{Enabled: true, Trusted: []string{"192.0.2.0/24", "2001:db8::1"}}
	_, addr := startProxy(t, opts)

	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(10*time.Second)))
	start := time.Now()
	_, err = raw.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "closed by the proxy, not timed out: %v", err)
	assert.Less(t, time.Since(start), 5*time.Second)

	// The same listener trusting the loopback peer waits for the header.
	opts.Listeners[0].ProxyProtocol.Trusted = []string{"127.0.0.0/8"}
	_, addr = startProxy(t, opts)
	raw2, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer raw2.Close()
	require.NoError(t, raw2.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = raw2.Read(make([]byte, 1))
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "a trusted peer is given time to send its header")
}

func TestProxyProtocolOptionsRejected(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	tests := []struct {
		name    string
		trusted []string
		want    []string
	}{
		{"enabled without trusted peers", nil, []string{"load balancers' addresses", "0.0.0.0/0", "::/0"}},
		{"bad CIDR", []string{"10.0.0.1/8", "10.0.0.0/40"}, []string{`"10.0.0.0/40"`, "trusted"}},
		{"not an address", []string{"lb.example.com"}, []string{`"lb.example.com"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := simpleOptions(t, o, serverTLS(t, ""), nil)
			opts.Listeners[0].ProxyProtocol = ProxyProtocolOptions{Enabled: true, Trusted: tt.trusted}
			_, err := New(opts)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
