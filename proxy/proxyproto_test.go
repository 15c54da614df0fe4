package proxy

import (
	"bufio"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/binary"
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
	b := append([]byte(nil), proxyV2Sig...)
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
	opts.Listeners[0].ProxyProtocol = true
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
