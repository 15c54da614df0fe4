package h1

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy/h1/h1test"
)

// parsed is a copy of what a request carried, safe to keep after the
// Reader moves on.
type parsed struct {
	method, target, host string
	minor                int
	cl                   int64
	chunked, keepAlive   bool
	upgrade              string
	expect               bool
	body                 string
	fields               [][2]string
	trailer              [][2]string
}

func copyFields(h *Header) [][2]string {
	var out [][2]string
	for _, f := range h.Fields {
		out = append(out, [2]string{string(f.Name), string(f.Value)})
	}
	return out
}

func readOne(t *testing.T, rd *Reader, req *Request) (parsed, error) {
	t.Helper()
	if err := rd.ReadRequest(req); err != nil {
		return parsed{}, err
	}
	p := parsed{
		method: string(req.Method), target: string(req.Target), host: string(req.Host),
		minor: req.Minor, cl: req.ContentLength, chunked: req.Chunked, keepAlive: req.KeepAlive,
		upgrade: string(req.Upgrade), expect: req.ExpectContinue, fields: copyFields(&req.Header),
	}
	body, err := io.ReadAll(rd.Body())
	if err != nil {
		return p, err
	}
	p.body = string(body)
	p.trailer = copyFields(rd.Trailer())
	// The head must still be intact after the body was read.
	assert.Equal(t, p.method, string(req.Method))
	assert.Equal(t, p.fields, copyFields(&req.Header))
	return p, nil
}

func TestReadRequestValid(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want parsed
	}{
		{
			name: "GET",
			raw:  "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
			want: parsed{method: "GET", target: "/index.html?q=1", host: "example.com", minor: 1, cl: -1, keepAlive: true,
				fields: [][2]string{{"Host", "example.com"}, {"User-Agent", "t"}, {"Accept", "*/*"}}},
		},
		{
			name: "POST with Content-Length",
			raw:  "POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world",
			want: parsed{method: "POST", target: "/submit", host: "example.com", minor: 1, cl: 11, keepAlive: true, body: "hello world",
				fields: [][2]string{{"Host", "example.com"}, {"Content-Length", "11"}}},
		},
		{
			name: "chunked with extensions and trailers",
			raw: "POST /up HTTP/1.1\r\nHost: example.com\r\ntransfer-encoding: Chunked\r\n\r\n" +
				"5;name=value;flag\r\nhello\r\n6;q=\"a \\\"b\"\r\n world\r\n000\r\nX-Sum: abc\r\nX-Other:  d \r\n\r\n",
			want: parsed{method: "POST", target: "/up", host: "example.com", minor: 1, cl: -1, chunked: true, keepAlive: true,
				body:    "hello world",
				fields:  [][2]string{{"Host", "example.com"}, {"transfer-encoding", "Chunked"}},
				trailer: [][2]string{{"X-Sum", "abc"}, {"X-Other", "d"}}},
		},
		{
			name: "HTTP/1.0 default close",
			raw:  "GET / HTTP/1.0\r\n\r\n",
			want: parsed{method: "GET", target: "/", minor: 0, cl: -1},
		},
		{
			name: "HTTP/1.0 keep-alive",
			raw:  "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: a\r\n\r\n",
			want: parsed{method: "GET", target: "/", host: "a", minor: 0, cl: -1, keepAlive: true,
				fields: [][2]string{{"Connection", "Keep-Alive"}, {"Host", "a"}}},
		},
		{
			name: "HTTP/1.1 close",
			raw:  "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
			want: parsed{method: "GET", target: "/", host: "a", minor: 1, cl: -1,
				fields: [][2]string{{"Host", "a"}, {"Connection", "foo, close"}}},
		},
		{
			name: "absolute-form takes authority",
			raw:  "GET http://Example.com:8080/p?x HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
			want: parsed{method: "GET", target: "http://Example.com:8080/p?x", host: "Example.com:8080", minor: 1, cl: -1, keepAlive: true,
				fields: [][2]string{{"Host", "example.com:8080"}}},
		},
		{
			name: "CONNECT authority-form",
			raw:  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			want: parsed{method: "CONNECT", target: "example.com:443", host: "example.com:443", minor: 1, cl: -1, keepAlive: true,
				fields: [][2]string{{"Host", "example.com:443"}}},
		},
		{
			name: "OPTIONS asterisk",
			raw:  "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			want: parsed{method: "OPTIONS", target: "*", host: "a", minor: 1, cl: -1, keepAlive: true, fields: [][2]string{{"Host", "a"}}},
		},
		{
			name: "upgrade and expect",
			raw:  "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nExpect: 100-continue\r\n\r\n",
			want: parsed{method: "GET", target: "/ws", host: "a", minor: 1, cl: -1, keepAlive: true, upgrade: "websocket", expect: true,
				fields: [][2]string{{"Host", "a"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Expect", "100-continue"}}},
		},
		{
			name: "leading empty lines skipped, OWS trimmed, empty value",
			raw:  "\r\n\r\nGET / HTTP/1.1\r\nHost:\texample.com \t\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
			want: parsed{method: "GET", target: "/", host: "example.com", minor: 1, cl: -1, keepAlive: true,
				fields: [][2]string{{"Host", "example.com"}, {"X-Empty", ""}, {"X-Obs", "caf\xc3\xa9"}}},
		},
		{
			name: "zero Content-Length with leading zeros",
			raw:  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
			want: parsed{method: "POST", target: "/", host: "a", minor: 1, cl: 0, keepAlive: true,
				fields: [][2]string{{"Host", "a"}, {"Content-Length", "000"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var src io.Reader = strings.NewReader(tt.raw)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				rd := NewReader(src, Limits{})
				var req Request
				got, err := readOne(t, rd, &req)
				require.NoError(t, err)
				assert.Equal(t, tt.want, got, "oneByte=%v", oneByte)
				assert.ErrorIs(t, rd.ReadRequest(&req), io.EOF)
			}
		})
	}
}

func TestReadRequestPipelined(t *testing.T) {
	raw := "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
		"GET /c HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET /d HTTP/1.0\r\n\r\n"
	for _, oneByte := range []bool{false, true} {
		var src io.Reader = strings.NewReader(raw)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		rd := NewReader(src, Limits{})
		var req Request
		var targets, bodies []string
		for {
			p, err := readOne(t, rd, &req)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			targets = append(targets, p.target)
			bodies = append(bodies, p.body)
		}
		assert.Equal(t, []string{"/a", "/b", "/c", "/d"}, targets)
		assert.Equal(t, []string{"abc", "de", "", ""}, bodies)
	}
}

func TestReadRequestLargeHeaderUpToLimit(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 8 << 10, MaxHeaderCount: 10}
	head := "GET / HTTP/1.1\r\nHost: h\r\nX-Big: "
	// Exactly at the limit: accepted.
	pad := lim.MaxHeaderBytes - len(head) - len("\r\n\r\n")
	raw := head + strings.Repeat("v", pad) + "\r\n\r\n"
	require.Len(t, raw, lim.MaxHeaderBytes)
	rd := NewReader(strings.NewReader(raw+raw), lim)
	var req Request
	require.NoError(t, rd.ReadRequest(&req))
	assert.Len(t, req.Header.Get("x-big"), pad)
	require.NoError(t, rd.ReadRequest(&req))
	assert.Len(t, req.Header.Get("X-BIG"), pad)

	// One byte over: 431.
	raw = head + strings.Repeat("v", pad+1) + "\r\n\r\n"
	rd = NewReader(strings.NewReader(raw), lim)
	err := rd.ReadRequest(&req)
	e, ok := IsError(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 431, e.Status)

	// Count limit: exactly 10 accepted, 11 refused.
	ten := "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 9) + "\r\n"
	rd = NewReader(strings.NewReader(ten), lim)
	require.NoError(t, rd.ReadRequest(&req))
	assert.Equal(t, 10, req.Header.Len())
	eleven := "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 10) + "\r\n"
	rd = NewReader(strings.NewReader(eleven), lim)
	e, ok = IsError(rd.ReadRequest(&req))
	require.True(t, ok)
	assert.Equal(t, 431, e.Status)
}

func TestReadRequestEOF(t *testing.T) {
	var req Request
	rd := NewReader(strings.NewReader(""), Limits{})
	assert.ErrorIs(t, rd.ReadRequest(&req), io.EOF)

	rd = NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost"), Limits{})
	assert.ErrorIs(t, rd.ReadRequest(&req), io.ErrUnexpectedEOF)

	rd = NewReader(strings.NewReader("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"), Limits{})
	require.NoError(t, rd.ReadRequest(&req))
	_, err := io.ReadAll(rd.Body())
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)

	rd = NewReader(strings.NewReader("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), Limits{})
	require.NoError(t, rd.ReadRequest(&req))
	_, err = io.ReadAll(rd.Body())
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestReadRequestBodyMustBeConsumed(t *testing.T) {
	raw := "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
	rd := NewReader(strings.NewReader(raw), Limits{})
	var req Request
	require.NoError(t, rd.ReadRequest(&req))
	assert.ErrorIs(t, rd.ReadRequest(&req), ErrBodyUnread)
	require.NoError(t, rd.Discard(5))
	require.NoError(t, rd.ReadRequest(&req))
	assert.Equal(t, "/next", string(req.Target))

	rd = NewReader(strings.NewReader(raw), Limits{})
	require.NoError(t, rd.ReadRequest(&req))
	assert.ErrorIs(t, rd.Discard(4), ErrBodyTooLarge)
}

func TestDiscardChunked(t *testing.T) {
	raw := "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"400\r\n" + strings.Repeat("x", 1024) + "\r\n0\r\nT: v\r\n\r\n" + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
	rd := NewReader(iotest.HalfReader(strings.NewReader(raw)), Limits{})
	var req Request
	require.NoError(t, rd.ReadRequest(&req))
	require.NoError(t, rd.Discard(1<<20))
	assert.Equal(t, "v", string(rd.Trailer().Get("t")))
	require.NoError(t, rd.ReadRequest(&req))
	assert.Equal(t, "/next", string(req.Target))
}

func TestTakeBufferedForTunnel(t *testing.T) {
	raw := "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"
	rd := NewReader(strings.NewReader(raw), Limits{})
	var req Request
	require.NoError(t, rd.ReadRequest(&req))
	assert.Equal(t, "websocket", string(req.Upgrade))
	assert.Equal(t, 7, rd.Buffered())
	assert.Equal(t, "\x81\x05hello", string(rd.TakeBuffered()))
	assert.Equal(t, 0, rd.Buffered())
}

// TestSmugglingCorpus asserts every corpus case at codec level: the head or
// the body read ends in an *Error with the expected status.
func TestSmugglingCorpus(t *testing.T) {
	require.GreaterOrEqual(t, len(h1test.Smuggling), 35)
	names := map[string]bool{}
	for _, c := range h1test.Smuggling {
		t.Run(c.Name, func(t *testing.T) {
			require.False(t, names[c.Name], "duplicate case name")
			names[c.Name] = true
			// Whole, and one byte per read: the verdict must not depend
			// on where reads split the stream.
			for _, src := range []io.Reader{strings.NewReader(c.Raw), iotest.OneByteReader(strings.NewReader(c.Raw))} {
				rd := NewReader(src, Limits{})
				var req Request
				err := rd.ReadRequest(&req)
				if c.InBody {
					require.NoError(t, err, "head must be valid")
					_, err = io.ReadAll(rd.Body())
				}
				e, ok := IsError(err)
				require.True(t, ok, "want *Error, got %v", err)
				assert.Equal(t, c.WantStatus, e.Status, e.Reason)
			}
		})
	}
}

func TestAppendOriginForm(t *testing.T) {
	tests := []struct{ method, target, want string }{
		{"GET", "/p?q", "/p?q"},
		{"GET", "http://a", "/"},
		{"GET", "http://a?x=1", "/?x=1"},
		{"GET", "HTTPS://a:8443/b/c?d", "/b/c?d"},
		{"CONNECT", "a:443", "a:443"},
		{"OPTIONS", "*", "*"},
	}
	for _, tt := range tests {
		// HTTP/1.0 needs no Host, so the absolute-form authority stands alone.
		raw := tt.method + " " + tt.target + " HTTP/1.0\r\n\r\n"
		if tt.method == "CONNECT" {
			raw = "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"
		}
		rd := NewReader(strings.NewReader(raw), Limits{})
		var req Request
		require.NoError(t, rd.ReadRequest(&req), raw)
		assert.Equal(t, tt.want, string(req.AppendOriginForm(nil)), tt.target)
	}
}

// TestHeadSurvivesBodyRefills reads a long body through small reads, so the
// buffer is refilled and compacted many times below the head; the head's
// slices must not change.
func TestHeadSurvivesBodyRefills(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 8<<10)
	for _, chunked := range []bool{false, true} {
		raw := "POST /long HTTP/1.1\r\nHost: h\r\nX-Keep: value-that-must-stay\r\n"
		if chunked {
			raw += "Transfer-Encoding: chunked\r\n\r\n"
			for i := 0; i < len(body); i += 1000 {
				part := body[i:min(i+1000, len(body))]
				raw += strconv.FormatInt(int64(len(part)), 16) + "\r\n" + part + "\r\n"
			}
			raw += "0\r\n\r\n"
		} else {
			raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		}
		raw += "GET /after HTTP/1.1\r\nHost: h\r\n\r\n"
		rd := NewReader(iotest.HalfReader(strings.NewReader(raw)), Limits{})
		var req Request
		require.NoError(t, rd.ReadRequest(&req))
		keep := req.Header.Get("x-keep")
		var got strings.Builder
		small := make([]byte, 100)
		for {
			n, err := rd.Body().Read(small)
			got.WriteString(string(small[:n]))
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			assert.Equal(t, "value-that-must-stay", string(keep))
		}
		assert.Equal(t, body, got.String(), "chunked=%v", chunked)
		assert.Equal(t, "/long", string(req.Target))
		require.NoError(t, rd.ReadRequest(&req))
		assert.Equal(t, "/after", string(req.Target))
	}
}

func TestErrorsAreSticky(t *testing.T) {
	raw := "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
	rd := NewReader(strings.NewReader(raw), Limits{})
	var req Request
	first := rd.ReadRequest(&req)
	e, ok := IsError(first)
	require.True(t, ok)
	assert.Equal(t, 400, e.Status)
	assert.Equal(t, first, rd.ReadRequest(&req), "a refused head poisons the stream")

	raw = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
	rd = NewReader(strings.NewReader(raw), Limits{})
	require.NoError(t, rd.ReadRequest(&req))
	_, bodyErr := io.ReadAll(rd.Body())
	require.Error(t, bodyErr)
	assert.Equal(t, bodyErr, rd.ReadRequest(&req))

	// Reset clears it.
	rd.Reset(strings.NewReader("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"))
	require.NoError(t, rd.ReadRequest(&req))
	assert.Equal(t, "/ok", string(req.Target))
}

// TestSmallLimitsPipelined runs many pipelined requests through a buffer
// barely larger than one head, so every head straddles a refill.
func TestSmallLimitsPipelined(t *testing.T) {
	one := "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789" +
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n0123\r\n6\r\n456789\r\n0\r\nT: v\r\n\r\n"
	lim := Limits{MaxHeaderBytes: 57, MaxHeaderCount: 2, MaxTrailerBytes: 16, MaxChunkLineBytes: 8}
	for _, wrap := range []func(io.Reader) io.Reader{iotest.HalfReader, iotest.OneByteReader, iotest.DataErrReader} {
		rd := NewReader(wrap(strings.NewReader(strings.Repeat(one, 50))), lim)
		var req Request
		n := 0
		for {
			err := rd.ReadRequest(&req)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			b, err := io.ReadAll(rd.Body())
			require.NoError(t, err)
			require.Equal(t, "0123456789", string(b))
			n++
		}
		assert.Equal(t, 100, n)
	}
	// One byte more than the head limit is refused.
	rd := NewReader(strings.NewReader("POST /p HTTP/1.1\r\nHost: hh\r\nTransfer-Encoding: chunked\r\n\r\n"), lim)
	var req Request
	e, ok := IsError(rd.ReadRequest(&req))
	require.True(t, ok)
	assert.Equal(t, 431, e.Status)
}

// TestChunkLineBoundIndependentOfReads: a chunk-size line is held to the
// same bound whether its bytes arrive in one read or one at a time (the
// pipeline fuzzer found a line the proxy accepted when it was buffered
// whole and the codec refused when it arrived in pieces).
func TestChunkLineBoundIndependentOfReads(t *testing.T) {
	limit := DefaultLimits.MaxChunkLineBytes
	// A large head grows the buffer, so that when the bytes come in one
	// read the whole chunk line is already buffered past the bound.
	head := "POST / HTTP/1.1\r\nHost: a\r\nX-Pad: " + strings.Repeat("p", 5*limit) + "\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, extLen := range []int{limit - 8, limit, limit + 100} {
		line := "5;a=" + strings.Repeat("b", extLen)
		raw := head + line + "\r\nhello\r\n0\r\n\r\n"
		var outcomes []bool
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = strings.NewReader(raw)
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			rd := NewReader(src, Limits{})
			var req Request
			_, err := readOne(t, rd, &req)
			outcomes = append(outcomes, err == nil)
		}
		assert.Equal(t, outcomes[0], outcomes[1], "chunk line of %d bytes: accepted whole=%v, byte by byte=%v", len(line), outcomes[0], outcomes[1])
		assert.Equal(t, len(line)+1 < limit, outcomes[0], "chunk line of %d bytes against a bound of %d", len(line), limit)
	}
}
