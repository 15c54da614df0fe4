package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// validate checks what the codecs do not: a sane authority, and the limits.
func (p *Proxy) validate(s *Session) error {
	r := &s.Request
	if r.Authority == "" {
		return &StatusError{Status: http.StatusBadRequest, Err: errors.New("missing Host")}
	}
	if !validAuthority(r.Authority) {
		return &StatusError{Status: http.StatusBadRequest, Err: errors.New("malformed Host")}
	}
	if r.Header.Len() > p.limits.MaxHeaderCount {
		return &StatusError{Status: http.StatusRequestHeaderFieldsTooLarge, Err: errors.New("too many header fields")}
	}
	if r.Method != http.MethodConnect && (r.Path == "" || (r.Path[0] != '/' && r.Path != "*")) {
		return &StatusError{Status: http.StatusBadRequest, Err: errors.New("request target must be origin-form")}
	}
	if max := p.limits.MaxBodyBytes; max > 0 {
		if r.ContentLength > max {
			return errBodyTooLarge
		}
		if r.ContentLength != 0 && s.Body != nil {
			s.Body = &limitedBody{r: s.Body, left: max}
		}
	}
	return nil
}

// validAuthority accepts host[:port] with a reg-name, IPv4 or bracketed IPv6
// host: no userinfo, no whitespace, no path.
func validAuthority(a string) bool {
	if len(a) > 255+6 {
		return false
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return false
		}
		if net.ParseIP(a[1:end]) == nil {
			return false
		}
		host, port = "", a[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i:]
	}
	if port != "" {
		if len(port) == 1 {
			return false
		}
		if n, err := strconv.Atoi(port[1:]); err != nil || n < 0 || n > 65535 {
			return false
		}
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return true
}

// limitedBody fails a request body that grows past MaxBodyBytes.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(b []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body exactly at the limit from a larger one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	return n, err
}
