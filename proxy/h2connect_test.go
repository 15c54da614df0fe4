package proxy

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Connect opens a CONNECT stream to target over a raw HTTP/2 connection
// and returns the response status, the framer and the connection.
func h2Connect(t *testing.T, addr, target string) (string, *http2.Framer) {
	t.Helper()
	c := rawTLS(t, addr, "h2")
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	require.Equal(t, "h2", c.ConnectionState().NegotiatedProtocol)
	_, err := io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	require.NoError(t, fr.WriteSettings())
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	require.NoError(t, enc.WriteField(hpack.HeaderField{Name: ":method", Value: "CONNECT"}))
	require.NoError(t, enc.WriteField(hpack.HeaderField{Name: ":authority", Value: target}))
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}))
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(t, fr.WriteSettingsAck())
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				return f.PseudoValue("status"), fr
			}
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			t.Fatalf("CONNECT stream ended: %v", f)
		}
	}
}

// TestConnectH2: CONNECT over an HTTP/2 stream (RFC 9113 §8.5) is refused
// by default, as on HTTP/1.1, and tunnels through the stream when allowed.
func TestConnectH2(t *testing.T) {
	o := newOrigin(t, nil, false, false)
	target := addrOf(o)
	_, portStr, _ := net.SplitHostPort(target)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)

	t.Run("refused by default", func(t *testing.T) {
		_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, ""), nil))
		status, _ := h2Connect(t, addr, target)
		assert.Equal(t, "405", status)
	})
	t.Run("allowed port tunnels through the stream", func(t *testing.T) {
		opts := simpleOptions(t, o, serverTLS(t, ""), nil)
		opts.Connect = ConnectOptions{Allow: true, Ports: []int{port}}
		_, addr := startProxy(t, opts)
		status, fr := h2Connect(t, addr, target)
		require.Equal(t, "200", status)
		require.NoError(t, fr.WriteData(1, false, []byte("GET /through HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")))
		var got []byte
		for !strings.Contains(string(got), "hello GET /through") {
			f, err := fr.ReadFrame()
			require.NoError(t, err, "tunnel so far: %q", got)
			if d, ok := f.(*http2.DataFrame); ok && d.StreamID == 1 {
				got = append(got, d.Data()...)
				require.NoError(t, fr.WriteWindowUpdate(0, uint32(len(d.Data())+1)))
			}
		}
		assert.Contains(t, string(got), "HTTP/1.1 200")
	})
}
