package canon

// byteClass says what a raw path byte is to the canonicaliser.
type byteClass uint8

const (
	// classInvalid bytes may never appear raw: controls, space, DEL and
	// non-ASCII. The HTTP/1.1 codec refuses them already; HTTP/2 :path
	// arrives here too.
	classInvalid byteClass = iota
	// classKeep bytes stay as they are: RFC 3986 pchar and "/".
	classKeep
	// classEscape bytes are printable but not allowed raw in a path
	// (`"`, `<`, `>`, `[`, `]`, `^`, "`", `{`, `|`, `}`): their canonical
	// form is the escape, which every origin decodes to the same byte.
	classEscape
	// classSpecial bytes need a decision: "%" and "\".
	classSpecial
)

var (
	classes    [256]byte
	unreserved [256]bool
)

func init() {
	for c := 0x21; c < 0x7f; c++ {
		classes[c] = byte(classEscape)
	}
	for c := 'a'; c <= 'z'; c++ {
		unreserved[c] = true
		unreserved[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		unreserved[c] = true
	}
	for _, c := range "-._~" {
		unreserved[c] = true
	}
	for c := range unreserved {
		if unreserved[c] {
			classes[c] = byte(classKeep)
		}
	}
	// sub-delims, ":" and "@" complete pchar; "/" separates segments.
	for _, c := range "!$&'()*+,;=:@/" {
		classes[c] = byte(classKeep)
	}
	classes['%'] = byte(classSpecial)
	classes['\\'] = byte(classSpecial)
}

func classOf(c byte) byteClass { return byteClass(classes[c]) }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const upperHex = "0123456789ABCDEF"

func appendEscape(dst []byte, v byte) []byte {
	return append(dst, '%', upperHex[v>>4], upperHex[v&15])
}
