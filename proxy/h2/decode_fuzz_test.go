package h2

//lint:file-ignore SA1019 x/net's Framer is the reference the decoding is compared with

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// decodeOurs runs block through the connection's header-block path as a
// request's HEADERS with END_STREAM.
func decodeOurs(t *testing.T, block []byte) (st *Stream, b headerBlock, compression bool) {
	a, z := net.Pipe()
	defer a.Close()
	defer z.Close()
	srv, err := NewServer(ServerOptions{MaxConcurrentStreams: 10, MaxHeaderBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c := srv.newConn(t.Context(), z, nil)
	st = &Stream{c: c, id: 1, declared: -1}
	c.blk.reset(1, st, false)
	c.blk.endStream = true
	c.dec.SetEmitEnabled(true)
	if _, err := c.dec.Write(block); err != nil {
		return st, c.blk, true
	}
	if err := c.dec.Close(); err != nil {
		return st, c.blk, true
	}
	c.blk.checkRequest()
	return st, c.blk, false
}

// decodeXNet decodes block as x/net's Framer does for a server.
func decodeXNet(block []byte) (*http2.MetaHeadersFrame, error) {
	var buf bytes.Buffer
	w := http2.NewFramer(&buf, nil)
	if err := w.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
		return nil, err
	}
	r := http2.NewFramer(nil, &buf)
	r.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.MaxHeaderListSize = 1 << 20
	f, err := r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return f.(*http2.MetaHeadersFrame), nil
}

// ourOnlyRules are the malformations Gantry refuses that x/net's Framer
// leaves to the server above it (RFC 9113 §8.2.2, §8.3.1, and the
// strictness of content-length and field values): a block x/net accepts
// may fail these, and nothing else.
var ourOnlyRules = []string{
	"connection-specific", "te other than", "content-length", "missing", "invalid :path",
	"CONNECT", "host", "invalid field value", "unknown pseudo-header", "duplicate", "invalid :method",
}

func FuzzHeaderBlockDiff(f *testing.F) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	seed := func(fields ...string) {
		buf.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		f.Add(append([]byte(nil), buf.Bytes()...))
	}
	seed(":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", "/")
	seed(":method", "GET", ":scheme", "https", ":path", "/", "host", "a.example", "cookie", "a=1", "cookie", "b=2")
	seed(":method", "POST", ":scheme", "https", ":path", "/x", "content-length", "+5")
	seed(":method", "GET", ":scheme", "https", ":path", "/", "connection", "close")
	seed(":method", "GET", "x", "1", ":path", "/")
	seed(":method", "GET", ":scheme", "https", ":path", "/", "Upper", "1")
	seed(":method", "GET", ":scheme", "https", ":path", "/", "x", " pad")
	seed(":method", "CONNECT", ":authority", "a.example:443")
	seed(":status", "200")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x3f, 0xe1, 0x1f}) // table size update over the limit
	f.Fuzz(func(t *testing.T, block []byte) {
		st, b, compression := decodeOurs(t, block)
		mh, xerr := decodeXNet(block)
		var ce http2.ConnectionError
		xCompression := errors.As(xerr, &ce) && http2.ErrCode(ce) == http2.ErrCodeCompression
		var se http2.StreamError
		if compression && !xCompression && errors.As(xerr, &se) {
			// x/net stops decoding strings once it refuses a field;
			// Gantry decodes the block to its end, so a bad string after
			// the refusal is still the connection's error (stricter).
			return
		}
		if compression != xCompression {
			t.Fatalf("HPACK error: ours %v, x/net %v (%v)", compression, xCompression, xerr)
		}
		if compression {
			return
		}
		if xerr != nil {
			// x/net refuses the fields (stream PROTOCOL_ERROR): so must we.
			if b.malformed == "" && !b.tooLarge {
				t.Fatalf("x/net refuses (%v), ours accepts", xerr)
			}
			return
		}
		if b.malformed != "" {
			for _, r := range ourOnlyRules {
				if strings.Contains(b.malformed, r) {
					return
				}
			}
			t.Fatalf("ours refuses (%s) a block x/net accepts: %v", b.malformed, mh.Fields)
		}
		// Both accept: the same pseudo-headers and regular fields.
		if got := mh.PseudoValue("method"); got != st.c.blk.method {
			t.Fatalf(":method %q vs %q", b.method, got)
		}
		if got := mh.PseudoValue("path"); got != b.path {
			t.Fatalf(":path %q vs %q", b.path, got)
		}
		var want []string
		for _, hf := range mh.RegularFields() {
			if hf.Name != "host" {
				want = append(want, hf.Name+": "+hf.Value)
			}
		}
		var got []string
		for _, fl := range st.hdr.Fields {
			got = append(got, string(fl.Name)+": "+string(fl.Value))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("fields differ:\n ours  %q\n x/net %q", got, want)
		}
	})
}
