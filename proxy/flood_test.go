package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Attacker opens a raw HTTP/2 connection to addr and returns its framer.
func h2Attacker(t *testing.T, addr string) (*http2.Framer, func() bool) {
	c := rawTLS(t, addr, "h2")
	require.Equal(t, "h2", c.ConnectionState().NegotiatedProtocol)
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err := io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	require.NoError(t, fr.WriteSettings())
	// sawEnd drains frames until GOAWAY or the connection ends, and
	// reports whether either happened before the read deadline.
	sawEnd := func() bool {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return !isTimeout(err)
			}
			if _, ok := f.(*http2.GoAwayFrame); ok {
				return true
			}
		}
	}
	return fr, sawEnd
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	te, ok := err.(timeout)
	return ok && te.Timeout()
}

func requestBlock(t *testing.T, extra ...hpack.HeaderField) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: "/"},
	}, extra...) {
		require.NoError(t, enc.WriteField(f))
	}
	return buf.Bytes()
}

func TestHTTP2Floods(t *testing.T) { forEachBackend(t, testHTTP2Floods) }

func testHTTP2Floods(t *testing.T, backend string) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(50 * time.Millisecond):
		}
		_, _ = io.WriteString(w, "ok")
	})
	o := newOrigin(t, slow, false, false)
	_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, backend), nil))

	wellBehaved := func(t *testing.T) {
		resp, body := get(t, client(t, true), "https://"+addr+"/")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "ok", body)
	}

	t.Run("settings advertise the stream limit", func(t *testing.T) {
		fr, _ := h2Attacker(t, addr)
		f, err := fr.ReadFrame()
		require.NoError(t, err)
		sf, ok := f.(*http2.SettingsFrame)
		require.True(t, ok, "first frame is SETTINGS, got %T", f)
		v, ok := sf.Value(http2.SettingMaxConcurrentStreams)
		assert.True(t, ok)
		assert.EqualValues(t, DefaultH2MaxConcurrentStreams, v)
	})

	t.Run("rapid reset", func(t *testing.T) {
		fr, sawEnd := h2Attacker(t, addr)
		block := requestBlock(t)
		done := make(chan bool)
		go func() {
			for id := uint32(1); id < 20000; id += 2 {
				if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}) != nil {
					break
				}
				if fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
					break
				}
			}
			done <- true
		}()
		wellBehaved(t)
		assert.True(t, sawEnd(), "the attacker must get GOAWAY or be disconnected")
		<-done
		wellBehaved(t)
	})

	t.Run("endless CONTINUATION", func(t *testing.T) {
		fr, sawEnd := h2Attacker(t, addr)
		block := requestBlock(t)
		var more bytes.Buffer
		enc := hpack.NewEncoder(&more)
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("a", 1000)}))
		done := make(chan bool)
		go func() {
			if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: false}) == nil {
				for range 100000 {
					if fr.WriteContinuation(1, false, more.Bytes()) != nil {
						break
					}
				}
			}
			done <- true
		}()
		wellBehaved(t)
		assert.True(t, sawEnd(), "the attacker must get GOAWAY or be disconnected")
		<-done
		wellBehaved(t)
	})
}
