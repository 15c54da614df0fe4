package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Outcome is how the proxy ended a raw HTTP/2 request: the response
// status, or the RST_STREAM code.
type h2Outcome struct {
	status int
	reset  http2.ErrCode
	body   string
}

// rawH2Request sends one POST on a raw HTTP/2 connection: HEADERS with the
// given content-length values, then body as one DATA frame (none when
// body is nil, the HEADERS then ending the stream).
func rawH2Request(t *testing.T, addr string, contentLength []string, body []byte) h2Outcome {
	fr, _ := h2Attacker(t, addr)
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: "/upload"},
	}
	for _, v := range contentLength {
		fields = append(fields, hpack.HeaderField{Name: "content-length", Value: v})
	}
	for _, f := range fields {
		require.NoError(t, enc.WriteField(f))
	}
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: buf.Bytes(), EndHeaders: true, EndStream: body == nil}))
	if body != nil {
		require.NoError(t, fr.WriteData(1, true, body))
	}
	dec := hpack.NewDecoder(4096, nil)
	var out h2Outcome
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "the proxy must answer or reset the stream")
		switch f := f.(type) {
		case *http2.HeadersFrame:
			hf, err := dec.DecodeFull(f.HeaderBlockFragment())
			require.NoError(t, err)
			for _, h := range hf {
				if h.Name == ":status" {
					out.status, _ = strconv.Atoi(h.Value)
				}
			}
			if f.StreamEnded() {
				return out
			}
		case *http2.DataFrame:
			out.body += string(f.Data())
			if f.StreamEnded() {
				return out
			}
		case *http2.RSTStreamFrame:
			out.reset = f.ErrCode
			return out
		case *http2.GoAwayFrame:
			out.reset = f.ErrCode
			return out
		}
	}
}

// TestH2ContentLengthStrict: an HTTP/2 content-length that is not one plain
// decimal, or that the DATA disagrees with, is refused (400, or a reset
// with PROTOCOL_ERROR) and nothing reaches the upstream; a correct one is
// forwarded with its body.
func TestH2ContentLengthStrict(t *testing.T) { forEachBackend(t, testH2ContentLengthStrict) }

func testH2ContentLengthStrict(t *testing.T, backend string) {
	o := newOrigin(t, nil, false, false)
	_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, backend), nil))

	good := rawH2Request(t, addr, []string{"5"}, []byte("hello"))
	assert.Equal(t, http.StatusOK, good.status)
	assert.Equal(t, "hello POST /upload hello", good.body)
	require.EqualValues(t, 1, o.requests.Load())

	tests := []struct {
		name string
		cl   []string
		body []byte
	}{
		{"plus sign", []string{"+5"}, []byte("hello")},
		{"minus sign", []string{"-5"}, []byte("hello")},
		{"hex", []string{"0x5"}, []byte("hello")},
		{"list", []string{"5, 5"}, []byte("hello")},
		{"two fields disagree", []string{"5", "6"}, []byte("hello")},
		{"empty", []string{""}, []byte("hello")},
		{"longer than the DATA", []string{"10"}, []byte("hello")},
		{"shorter than the DATA", []string{"3"}, []byte("hello")},
		{"length without DATA", []string{"5"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawH2Request(t, addr, tt.cl, tt.body)
			refused := got.status == http.StatusBadRequest || got.reset == http2.ErrCodeProtocol
			assert.True(t, refused, "want 400 or RST_STREAM PROTOCOL_ERROR, got %+v", got)
			assert.EqualValues(t, 1, o.requests.Load(), "the malformed request reached the upstream")
		})
	}
}

// TestHTTP09Refused: a request line without a version is answered 400 at
// once, not when the header timeout (a minute here) fires with 408.
func TestHTTP09Refused(t *testing.T) { forEachBackend(t, testHTTP09Refused) }

func testHTTP09Refused(t *testing.T, backend string) {
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, backend), nil)
	opts.Timeouts.RequestHeader = time.Minute
	_, addr := startProxy(t, opts)
	for _, line := range []string{"GET /\r\n", "GET\r\n", "GET /admin/x\r\n"} {
		c := rawTLS(t, addr)
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		_, err := c.Write([]byte(line))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err, "%q: no answer before the header timeout", line)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%q", line)
	}
	assert.Zero(t, o.requests.Load())
}
