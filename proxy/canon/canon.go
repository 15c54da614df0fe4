package canon

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Target canonicalises the path of an origin-form request target
// ("/path?query") and returns it with the query exactly as sent. A target
// that is already canonical is returned as it is, without allocating.
func Target(target string, pol *Policy) (string, error) {
	path, query, hasQuery := strings.Cut(target, "?")
	cp, err := Path(path, pol)
	if err != nil {
		return "", err
	}
	if cp == path {
		return target, nil
	}
	if !hasQuery {
		return cp, nil
	}
	return cp + "?" + query, nil
}

// Path returns the canonical form of p, which must start with "/" and
// carry no query. A path that is already canonical is returned as it is,
// without allocating.
func Path(p string, pol *Policy) (string, error) {
	if p == "" || p[0] != '/' {
		return "", ErrNotAbsolute
	}
	if isCanonical(p) {
		return p, nil
	}
	// Paths fit these on the stack almost always; longer ones grow onto
	// the heap.
	var decBuf, outBuf [512]byte
	dec, err := decode(decBuf[:0], p, pol)
	if err != nil {
		return "", err
	}
	out, err := removeDots(outBuf[:0], dec, pol)
	if err != nil {
		return "", err
	}
	if string(out) == p {
		return p, nil
	}
	return string(out), nil
}

// isCanonical is the fast path: only bytes that stay as they are, no
// escapes, no empty segment, no dot-segment.
func isCanonical(p string) bool {
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if classOf(c) != classKeep {
				return false
			}
			if c != '/' {
				continue
			}
		}
		switch seg := p[segStart:i]; seg {
		case ".", "..":
			return false
		case "":
			if i < len(p) { // an empty segment before another "/"
				return false
			}
		}
		segStart = i + 1
	}
	return true
}

// decode makes every byte of p canonical: unreserved escapes decoded,
// other escapes upper-cased, raw bytes that need it escaped, and the
// ambiguous spellings resolved by pol. Raw "/" in the result are exactly
// the segment separators.
func decode(dst []byte, p string, pol *Policy) ([]byte, error) {
	highEscapes := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch classOf(c) {
		case classKeep:
			dst = append(dst, c)
			continue
		case classEscape:
			dst = appendEscape(dst, c)
			continue
		case classInvalid:
			return nil, ErrInvalidByte
		}
		if c == '\\' {
			if pol.Backslash != BackslashSlash {
				return nil, ErrBackslash
			}
			dst = append(dst, '/')
			continue
		}
		// c == '%'
		var hi, lo byte
		ok1, ok2 := false, false
		if i+2 < len(p) {
			hi, ok1 = unhex(p[i+1])
			lo, ok2 = unhex(p[i+2])
		}
		if !ok1 || !ok2 {
			if pol.InvalidEscape != EscapeEncode {
				return nil, ErrInvalidEscape
			}
			dst = append(dst, "%25"...)
			continue
		}
		i += 2
		v := hi<<4 | lo
		switch {
		case unreserved[v]:
			dst = append(dst, v)
		case v == '/':
			switch pol.EncodedSlash {
			case SlashDecode:
				dst = append(dst, '/')
			case SlashKeep:
				dst = append(dst, "%2F"...)
			default:
				return nil, ErrEncodedSlash
			}
		case v == '\\':
			if pol.Backslash != BackslashSlash {
				return nil, ErrBackslash
			}
			dst = append(dst, '/')
		case v == 0:
			return nil, ErrNUL
		default:
			highEscapes = highEscapes || v >= 0x80
			dst = appendEscape(dst, v)
		}
	}
	if highEscapes && pol.InvalidUTF8 != UTF8Keep && !escapedUTF8Valid(dst) {
		return nil, ErrInvalidUTF8
	}
	return dst, nil
}

// escapedUTF8Valid checks every run of escapes in a decoded path: what
// they decode to must be valid UTF-8 (which rules out overlong forms and
// surrogates). dec is canonical, so every "%" starts a valid escape.
func escapedUTF8Valid(dec []byte) bool {
	var runBuf [64]byte
	run := runBuf[:0]
	for i := 0; i <= len(dec); i++ {
		if i < len(dec) && dec[i] == '%' {
			hi, _ := unhex(dec[i+1])
			lo, _ := unhex(dec[i+2])
			run = append(run, hi<<4|lo)
			i += 2
			continue
		}
		if len(run) > 0 && !utf8.Valid(run) {
			return false
		}
		run = run[:0]
	}
	return true
}

// removeDots joins the segments of dec (which starts with "/") into dst
// without "." and ".." segments (RFC 3986 §5.2.4), handling empty
// segments as pol says. A ".." with nothing left to remove is an error:
// an origin would clamp it to the root, or worse, resolve it against a
// directory above its document root.
func removeDots(dst, dec []byte, pol *Policy) ([]byte, error) {
	rest := dec[1:]
	trailing := false
	for {
		seg, after, more := bytes.Cut(rest, []byte{'/'})
		last := !more
		switch string(seg) {
		case "":
			if !last {
				if pol.DoubleSlash == DoubleSlashReject {
					return nil, ErrDoubleSlash
				}
				break
			}
			trailing = true
		case ".":
			trailing = last
		case "..":
			if len(dst) == 0 {
				return nil, ErrAboveRoot
			}
			dst = dst[:bytes.LastIndexByte(dst, '/')]
			trailing = last
		default:
			dst = append(dst, '/')
			dst = append(dst, seg...)
		}
		if last {
			break
		}
		rest = after
	}
	if trailing || len(dst) == 0 {
		dst = append(dst, '/')
	}
	return dst, nil
}
