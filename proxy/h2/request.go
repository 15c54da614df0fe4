package h2

import (
	"strings"

	"golang.org/x/net/http2/hpack"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// headerBlock is the header block being received: HEADERS and its
// CONTINUATIONs, decoded field by field as the fragments arrive, straight
// into the stream's h1.Header (no intermediate map, no field list copied).
// RFC 9113 §8 is checked per field, so nothing malformed is kept.
type headerBlock struct {
	stream    uint32
	st        *Stream // nil: decoded only to keep the HPACK state in step
	trailer   bool    // trailers of st, not its request head
	ignore    bool    // of a stream Gantry reset: decoded, then dropped
	endStream bool
	raw       int // header-block bytes received, before decoding
	size      int // decoded size as SETTINGS_MAX_HEADER_LIST_SIZE counts it
	count     int
	tooLarge  bool
	malformed string // the first violation, if any

	sawRegular bool
	pseudo     uint8
	method     string
	scheme     string
	authority  string
	path       string
	host       string
	hasHost    bool
	declared   int64
	cookies    int
	expect     bool
	priority   bool // a self-dependent priority: stream PROTOCOL_ERROR
}

const (
	pseudoMethod = 1 << iota
	pseudoScheme
	pseudoAuthority
	pseudoPath
)

func (b *headerBlock) reset(stream uint32, st *Stream, trailer bool) {
	*b = headerBlock{stream: stream, st: st, trailer: trailer, declared: -1}
}

func (b *headerBlock) fail(reason string) {
	if b.malformed == "" {
		b.malformed = reason
	}
}

// onField is the HPACK decoder's emit function. Once the block is over
// its size, emitting stops: the decoder then keeps its table in step
// without decoding the strings nobody will read. A block refused for its
// fields is still decoded to the end, so that a bad Huffman string after
// the refusal is the connection's COMPRESSION_ERROR, as on x/net.
func (c *conn) onField(f hpack.HeaderField) {
	b := &c.blk
	c.field(b, f)
	if b.tooLarge {
		c.dec.SetEmitEnabled(false)
	}
}

func (c *conn) field(b *headerBlock, f hpack.HeaderField) {
	b.size += len(f.Name) + len(f.Value) + 32
	b.count++
	if b.size > c.srv.o.MaxHeaderBytes || (c.srv.o.MaxHeaderCount > 0 && b.count > c.srv.o.MaxHeaderCount) {
		// Decoding goes on (the HPACK state must stay in step with the
		// client's), but nothing more is kept.
		b.tooLarge = true
		return
	}
	if b.st == nil || b.malformed != "" || b.tooLarge {
		return
	}
	if strings.HasPrefix(f.Name, ":") {
		b.pseudoField(f)
		return
	}
	b.sawRegular = true
	if !validFieldName(f.Name) {
		b.fail("invalid field name")
		return
	}
	if !validFieldValue(f.Value) {
		b.fail("invalid field value")
		return
	}
	dst := &b.st.hdr
	if b.trailer {
		dst = &b.st.trailer
	}
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		b.fail("connection-specific field " + f.Name)
		return
	case "te":
		if !strings.EqualFold(f.Value, "trailers") {
			b.fail("te other than trailers")
			return
		}
	case "content-length":
		if b.trailer {
			b.fail("content-length in trailers")
			return
		}
		n, ok := h1.ParseContentLength(f.Value)
		if !ok || (b.declared >= 0 && n != b.declared) {
			b.fail("content-length is not one plain decimal")
			return
		}
		b.declared = n
	case "host":
		if !b.trailer {
			// The authority, not a field: Session heads never carry Host.
			if b.hasHost {
				b.fail("more than one host")
			}
			b.host, b.hasHost = f.Value, true
			return
		}
	case "cookie":
		b.cookies++
	case "expect":
		b.expect = !b.trailer && strings.EqualFold(f.Value, "100-continue")
	}
	dst.Add(f.Name, f.Value)
}

func (b *headerBlock) pseudoField(f hpack.HeaderField) {
	if b.trailer {
		b.fail("pseudo-header in trailers")
		return
	}
	if b.sawRegular {
		b.fail("pseudo-header after a regular field")
		return
	}
	if !validFieldValue(f.Value) {
		b.fail("invalid field value in " + f.Name)
		return
	}
	var bit uint8
	switch f.Name {
	case ":method":
		bit, b.method = pseudoMethod, f.Value
	case ":scheme":
		bit, b.scheme = pseudoScheme, f.Value
	case ":authority":
		bit, b.authority = pseudoAuthority, f.Value
	case ":path":
		bit, b.path = pseudoPath, f.Value
	default:
		// :status is a response's; :protocol needs
		// SETTINGS_ENABLE_CONNECT_PROTOCOL, which Gantry never sends.
		b.fail("unknown pseudo-header " + f.Name)
		return
	}
	if b.pseudo&bit != 0 {
		b.fail("duplicate " + f.Name)
		return
	}
	b.pseudo |= bit
}

// checkRequest applies the request-level rules once the block is whole
// (RFC 9113 §8.3.1, §8.5).
func (b *headerBlock) checkRequest() {
	if b.malformed != "" {
		return
	}
	if b.method == "" || !isToken(b.method) {
		b.fail("missing or invalid :method")
		return
	}
	if b.hasHost {
		if b.pseudo&pseudoAuthority == 0 {
			b.authority = b.host
		} else if !strings.EqualFold(b.host, b.authority) {
			b.fail("host differs from :authority")
			return
		}
	}
	if b.method == "CONNECT" {
		if b.pseudo&(pseudoScheme|pseudoPath) != 0 || b.authority == "" {
			b.fail("CONNECT needs :authority and nothing else")
		}
		return
	}
	if b.pseudo&(pseudoMethod|pseudoScheme|pseudoPath) != pseudoMethod|pseudoScheme|pseudoPath {
		b.fail("missing pseudo-header")
		return
	}
	if b.path == "" || (b.path[0] != '/' && !(b.path == "*" && b.method == "OPTIONS")) {
		b.fail("invalid :path")
		return
	}
	if b.endStream && b.declared > 0 {
		b.fail("content-length on a request without DATA")
	}
}

// joinCookies makes the cookie fields one, as an HTTP/1.1 upstream
// expects (RFC 9113 §8.2.3).
func joinCookies(h *h1.Header, scratch []byte) []byte {
	joined := scratch[:0]
	for _, f := range h.Fields {
		if string(f.Name) == "cookie" {
			if len(joined) > 0 {
				joined = append(joined, "; "...)
			}
			joined = append(joined, f.Value...)
		}
	}
	h.Del("cookie")
	h.Add("cookie", string(joined))
	return joined
}

// tokenChars are the bytes of a field name HTTP/2 allows: tchar without
// upper case (RFC 9113 §8.2.1, RFC 9110 §5.6.2).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// isToken is a method: tchar, upper case allowed.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !tokenChars[c] && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return s != ""
}

// validFieldValue refuses whitespace at either end (RFC 9113 §8.2.1) and
// every control byte but HTAB: RFC 9113 forbids only NUL, CR and LF, but
// the value goes on to an HTTP/1.1 upstream, whose grammar (RFC 9110
// §5.5) has no place for the others, and parsers differ on them.
func validFieldValue(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
