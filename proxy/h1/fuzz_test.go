package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/gantry-proxy/gantry/proxy/h1/h1test"
)

// outcome is what one parser made of a byte stream's first request.
type outcome struct {
	headErr              error
	bodyErr              error
	method, target, host string
	body                 []byte
	consumed             int // bytes of the input the request and its body took
}

func ourRequest(data []byte) outcome {
	src := bytes.NewReader(data)
	rd := NewReader(src, Limits{})
	var req Request
	var o outcome
	if o.headErr = rd.ReadRequest(&req); o.headErr != nil {
		return o
	}
	o.method, o.target, o.host = string(req.Method), string(req.Target), string(req.Host)
	o.body, o.bodyErr = io.ReadAll(rd.Body())
	o.consumed = len(data) - src.Len() - rd.Buffered()
	return o
}

// netHTTPRequest runs net/http's parser and the checks its server adds on
// top (server.go readRequest), which is what "net/http accepts" means for a
// server.
func netHTTPRequest(data []byte) outcome {
	// Our Reader skips CRLFs before a request line (RFC 9112 §2.2), which
	// net/http's server does only after a POST; skip them here too.
	skipped := 0
	for bytes.HasPrefix(data[skipped:], []byte("\r\n")) {
		skipped += 2
	}
	src := bytes.NewReader(data[skipped:])
	br := bufio.NewReaderSize(src, 128<<10)
	var o outcome
	req, err := http.ReadRequest(br)
	if err != nil {
		o.headErr = err
		return o
	}
	if !(req.ProtoMajor == 1 && (req.ProtoMinor == 0 || req.ProtoMinor == 1)) {
		o.headErr = errors.New("unsupported protocol version")
		return o
	}
	// http.ReadRequest drops Host from the map; read the fields again the
	// way it does to count them.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data[skipped:])))
	_, _ = tp.ReadLine()
	mh, _ := tp.ReadMIMEHeader()
	hosts, haveHost := mh["Host"]
	switch {
	case req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && req.Method != "CONNECT":
		o.headErr = errors.New("missing required Host header")
	case len(hosts) > 1:
		o.headErr = errors.New("too many Host headers")
	case len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]):
		o.headErr = errors.New("malformed Host header")
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			o.headErr = errors.New("invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				o.headErr = errors.New("invalid header value")
			}
		}
	}
	if o.headErr != nil {
		return o
	}
	o.method, o.target, o.host = req.Method, req.RequestURI, req.Host
	o.body, o.bodyErr = io.ReadAll(req.Body)
	o.consumed = skipped + len(data) - skipped - src.Len() - br.Buffered()
	return o
}

// lenientWhereNetHTTPIsStricter reports refusals by net/http that are not
// about framing, where our codec deliberately passes the bytes on
// unchanged: net/http parses the target as a URL (rejecting, e.g., "%zz"
// or an unclosed "[" in an authority), while a proxy forwards the target as
// received and leaves its interpretation to the origin. The message's
// extent is the same either way.
func lenientWhereNetHTTPIsStricter(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// validRequestSeeds are accepted by both parsers.
var validRequestSeeds = []string{
	typicalGET,
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world",
	"POST /up HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5;n=v\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: abc\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET http://example.com/p HTTP/1.1\r\nHost: example.com\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nPOST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000005;a=\"q\\\"x\";b\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
	"PUT /v HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: CHUNKED\r\nX-Obs: \xe9t\xe9\t\r\n\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n",
	"POST /c HTTP/1.1\r\nhost:a.example:443\r\ncontent-length:\t007 \r\n\r\n1234567",
	"GET https://a.example:8443/p?q HTTP/1.1\r\nHost: A.example:8443\r\n\r\n",
	"DELETE /r HTTP/1.0\r\nContent-Length: 2\r\n\r\nok",
}

func requestSeeds() []string {
	seeds := append([]string(nil), validRequestSeeds...)
	for _, c := range h1test.Smuggling {
		if len(c.Raw) < 4096 {
			seeds = append(seeds, c.Raw)
		}
	}
	return seeds
}

func FuzzRequestDifferential(f *testing.F) {
	for _, s := range requestSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(checkRequestDifferential)
}

func checkRequestDifferential(t *testing.T, data []byte) {
	t.Helper()
	{
		ours := ourRequest(data)
		ref := netHTTPRequest(data)

		if ours.headErr != nil {
			// Refusing more than net/http is allowed; an *Error must carry
			// a status a server can send.
			if e, ok := IsError(ours.headErr); ok {
				switch e.Status {
				case 400, 414, 431, 501, 505:
				default:
					t.Fatalf("unexpected status %d (%s)", e.Status, e.Reason)
				}
			}
			return
		}
		if ref.headErr != nil {
			if lenientWhereNetHTTPIsStricter(ref.headErr) {
				return
			}
			t.Fatalf("we accept a head net/http refuses: %v\ninput %q", ref.headErr, data)
		}
		if ours.method != ref.method || ours.target != ref.target || ours.host != ref.host {
			t.Fatalf("head differs: ours %q %q host %q, net/http %q %q host %q\ninput %q",
				ours.method, ours.target, ours.host, ref.method, ref.target, ref.host, data)
		}
		if ours.bodyErr != nil {
			return // stricter on the body, or truncated input
		}
		if ref.bodyErr != nil {
			t.Fatalf("we read a body net/http refuses: %v\ninput %q", ref.bodyErr, data)
		}
		if !bytes.Equal(ours.body, ref.body) {
			t.Fatalf("bodies differ: ours %q, net/http %q\ninput %q", ours.body, ref.body, data)
		}
		if ours.consumed != ref.consumed {
			t.Fatalf("next request starts at %d for us, %d for net/http\ninput %q", ours.consumed, ref.consumed, data)
		}
	}
}

// Fragments for FuzzRequestStructured: the pieces request smuggling is made
// of, so that mutations explore combinations of framing fields rather than
// mostly breaking the request line.
var (
	fragStart = []string{
		"GET / HTTP/1.1", "POST /x HTTP/1.1", "POST /x HTTP/1.0", "GET http://h/ HTTP/1.1",
		"CONNECT h:443 HTTP/1.1", "OPTIONS * HTTP/1.1", "PUT /x?y HTTP/1.1", "GET / HTTP/1.2",
	}
	fragName = []string{
		"Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Upgrade", "X-A",
		"content-length", "TRANSFER-ENCODING", "Content_Length", "Transfer-Encoding ", " Host",
		"Trailer", "Keep-Alive", "Transfer-Encoding\x0b", "",
	}
	fragSep   = []string{": ", ":", " : ", ":\t"}
	fragValue = []string{
		"h", "5", "0", "chunked", "Chunked", "chunked, chunked", "gzip", " 5", "5 ", "+5", "5, 5",
		"", "close", "keep-alive", "h:80", "\tchunked", "chunked\x0b", "0x5", "identity", "gzip, chunked",
		"00005", "99999999999999999999", "chunked;", "x\x00y", "100-continue", "\xe9",
	}
	fragEOL  = []string{"\n", "\r"} // rare: most lines end in CRLF
	fragBody = []string{
		"5\r\nhello\r\n", "0\r\n\r\n", "hello", "0\r\nT: v\r\n\r\n", "5;a=b\r\nhello\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "\r\n", "5\nhello\n", "a\r\n0123456789\r\n", "5 ;a\r\nhello\r\n",
		"0000000000000000005\r\nhello\r\n", "ffffffffffffffff\r\n",
	}
)

// buildRequest turns fuzz bytes into a request made of fragments: one byte
// picks the start line, the next gives the number of fields, four bytes
// make each field, the rest pick body fragments.
func buildRequest(data []byte) []byte {
	pick := func(list []string, i int) string {
		if i >= len(data) {
			return list[0]
		}
		return list[int(data[i])%len(list)]
	}
	eol := func(i int) string {
		if i < len(data) && data[i]%16 < 2 {
			return fragEOL[data[i]%16]
		}
		return "\r\n"
	}
	var b bytes.Buffer
	b.WriteString(pick(fragStart, 0))
	b.WriteString(eol(1))
	if len(data) > 1 && data[1]&0x80 == 0 {
		b.WriteString("Host: h\r\n")
	}
	n := 0
	if len(data) > 2 {
		n = int(data[2]) % 8
	}
	i := 3
	for f := 0; f < n; f++ {
		b.WriteString(pick(fragName, i))
		b.WriteString(pick(fragSep, i+1))
		b.WriteString(pick(fragValue, i+2))
		b.WriteString(eol(i + 3))
		i += 4
	}
	b.WriteString("\r\n")
	for ; i < len(data); i++ {
		b.WriteString(pick(fragBody, i))
	}
	return b.Bytes()
}

func FuzzRequestStructured(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 2, 0, 0, 0, 0, 1, 0, 1, 0, 2})
	f.Add([]byte{1, 0, 3, 0, 0, 0, 0, 2, 0, 3, 0, 1, 0, 1, 0, 1})
	f.Add([]byte{1, 0, 2, 0, 0, 0, 0, 2, 0, 3, 0, 0, 4, 3, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRequestDifferential(t, buildRequest(data))
	})
}

func ourResponse(data []byte, method string) outcome {
	src := bytes.NewReader(data)
	rd := NewReader(src, Limits{})
	var resp Response
	var o outcome
	if o.headErr = rd.ReadResponse(&resp, []byte(method)); o.headErr != nil {
		return o
	}
	o.body, o.bodyErr = io.ReadAll(rd.Body())
	o.consumed = len(data) - src.Len() - rd.Buffered()
	return o
}

func netHTTPResponse(data []byte, method string) outcome {
	src := bytes.NewReader(data)
	br := bufio.NewReaderSize(src, 128<<10)
	req, _ := http.NewRequest(method, "http://example.com/", nil)
	var o outcome
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		o.headErr = err
		return o
	}
	o.body, o.bodyErr = io.ReadAll(resp.Body)
	o.consumed = len(data) - src.Len() - br.Buffered()
	return o
}

func FuzzResponse(f *testing.F) {
	seeds := []string{
		typicalResponse,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
	}
	for i, s := range seeds {
		f.Add([]byte(s), i%3 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		ours := ourResponse(data, method)
		ref := netHTTPResponse(data, method)
		if ours.headErr != nil {
			if e, ok := IsError(ours.headErr); ok && e.Status != 502 {
				t.Fatalf("response error with status %d", e.Status)
			}
			return
		}
		if ref.headErr != nil || ours.bodyErr != nil || ref.bodyErr != nil {
			// Only agreement on accepted bodies is required here.
			return
		}
		if !bytes.Equal(ours.body, ref.body) {
			t.Fatalf("bodies differ: ours %q, net/http %q\ninput %q", ours.body, ref.body, data)
		}
		if ours.consumed != ref.consumed {
			t.Fatalf("next response starts at %d for us, %d for net/http\ninput %q", ours.consumed, ref.consumed, data)
		}
	})
}

// TestDifferentialSeeds runs the fuzz bodies over the seeds in ordinary
// test runs (go test runs f.Add seeds too; this makes the intent explicit
// and checks the valid seeds are accepted by both sides).
func TestDifferentialSeeds(t *testing.T) {
	for _, s := range validRequestSeeds {
		ours, ref := ourRequest([]byte(s)), netHTTPRequest([]byte(s))
		if ours.headErr != nil || ref.headErr != nil || ours.bodyErr != nil || ref.bodyErr != nil {
			t.Fatalf("seed %q: ours %v/%v, net/http %v/%v", s, ours.headErr, ours.bodyErr, ref.headErr, ref.bodyErr)
		}
		if !bytes.Equal(ours.body, ref.body) || ours.consumed != ref.consumed || ours.host != ref.host {
			t.Fatalf("seed %q differs: %+v vs %+v", s, ours, ref)
		}
		if !strings.HasPrefix(s, "\r\n") && ours.consumed == 0 {
			t.Fatalf("seed %q consumed nothing", s)
		}
	}
}
