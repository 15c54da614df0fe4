package h2

import (
	"errors"
	"strconv"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// Responses are HPACK-encoded without the dynamic table: every field is
// either a static-table entry or a literal "without indexing" (RFC 7541
// §6.2.2) naming a static-table name where there is one. That costs some
// bytes on the wire and saves the per-connection table, its lookups and
// its memory; the client's decoder state never changes, so no table size
// update is ever needed whatever SETTINGS_HEADER_TABLE_SIZE the client
// sends. Names are lower-cased while they are copied.

// staticStatus are the :status values with a static-table entry.
var staticStatus = map[int]byte{200: 8, 204: 9, 206: 10, 304: 11, 400: 12, 404: 13, 500: 14}

// staticNames maps a field name to its first static-table index (RFC 7541
// Appendix A).
var staticNames = map[string]byte{
	"accept-charset": 15, "accept-encoding": 16, "accept-language": 17, "accept-ranges": 18,
	"accept": 19, "access-control-allow-origin": 20, "age": 21, "allow": 22, "authorization": 23,
	"cache-control": 24, "content-disposition": 25, "content-encoding": 26, "content-language": 27,
	"content-length": 28, "content-location": 29, "content-range": 30, "content-type": 31,
	"cookie": 32, "date": 33, "etag": 34, "expect": 35, "expires": 36, "from": 37, "host": 38,
	"if-match": 39, "if-modified-since": 40, "if-none-match": 41, "if-range": 42,
	"if-unmodified-since": 43, "last-modified": 44, "link": 45, "location": 46, "max-forwards": 47,
	"proxy-authenticate": 48, "proxy-authorization": 49, "range": 50, "referer": 51, "refresh": 52,
	"retry-after": 53, "server": 54, "set-cookie": 55, "strict-transport-security": 56,
	"transfer-encoding": 57, "user-agent": 58, "vary": 59, "via": 60, "www-authenticate": 61,
}

// errBadResponseField is a response field that cannot be sent on HTTP/2.
var errBadResponseField = errors.New("http2: response field name or value not allowed")

// appendInt appends an HPACK integer with an n-bit prefix (RFC 7541 §5.1);
// first holds the representation's leading bits.
func appendInt(dst []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendString appends an HPACK string literal, not Huffman-coded.
func appendString(dst []byte, s []byte) []byte {
	dst = appendInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// appendStatus appends :status.
func appendStatus(dst []byte, status int) []byte {
	if i, ok := staticStatus[status]; ok {
		return append(dst, 0x80|i)
	}
	var num [3]byte
	dst = appendInt(dst, 0, 4, 8) // literal without indexing, name :status
	return appendString(dst, strconv.AppendInt(num[:0], int64(status), 10))
}

// forbiddenResponseName reports the names never sent on HTTP/2: the
// connection-specific ones (RFC 9113 §8.2.2) and host.
func forbiddenResponseName(lower []byte) bool {
	switch string(lower) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te":
		return true
	}
	return false
}

// appendFields appends h's fields; scratch holds a lower-cased name.
func appendFields(dst []byte, h *h1.Header, scratch []byte) ([]byte, []byte, error) {
	if h == nil {
		return dst, scratch, nil
	}
	for _, f := range h.Fields {
		lower := scratch[:0]
		for _, c := range f.Name {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			} else if !tokenChars[c] {
				return dst, scratch, errBadResponseField
			}
			lower = append(lower, c)
		}
		scratch = lower
		if len(lower) == 0 || !validResponseValue(f.Value) {
			return dst, scratch, errBadResponseField
		}
		if forbiddenResponseName(lower) {
			continue
		}
		dst = appendField(dst, lower, f.Value)
	}
	return dst, scratch, nil
}

// appendField appends one literal field; set-cookie is marked never
// indexed, so no intermediary keeps it in a table.
func appendField(dst, lower, value []byte) []byte {
	first, prefix := byte(0x00), uint(4)
	if string(lower) == "set-cookie" {
		first = 0x10
	}
	if i, ok := staticNames[string(lower)]; ok {
		dst = appendInt(dst, first, prefix, uint64(i))
	} else {
		dst = append(dst, first)
		dst = appendString(dst, lower)
	}
	return appendString(dst, value)
}

func validResponseValue(v []byte) bool {
	for _, c := range v {
		if c == 0 || c == '\r' || c == '\n' {
			return false
		}
	}
	return true
}

// appendContentLength appends content-length: n.
func appendContentLength(dst []byte, n int64) []byte {
	var num [20]byte
	dst = appendInt(dst, 0, 4, 28)
	return appendString(dst, strconv.AppendInt(num[:0], n, 10))
}
