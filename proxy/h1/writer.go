package h1

import (
	"io"
	"strconv"
)

// AppendRequestHead appends an HTTP/1.1 request head (request line, h's
// fields in order, empty line) to dst and returns the extended slice. It
// writes h as it is: the caller has set Host and the framing fields it
// means to send and removed hop-by-hop ones.
//
// Every byte is checked first: a method or field name that is not a token,
// a target with spaces or controls, or a value with CR, LF or NUL (a hook's
// mistake or an injection attempt) returns an *Error and dst unchanged, so a
// head can never be split.
func AppendRequestHead(dst, method, target []byte, h *Header) ([]byte, error) {
	if !isToken(method) {
		return dst, &Error{Status: 500, Reason: "invalid method for upstream request"}
	}
	if len(target) == 0 {
		return dst, &Error{Status: 500, Reason: "empty request target"}
	}
	for _, c := range target {
		if !isTargetByt[c] {
			return dst, &Error{Status: 500, Reason: "invalid byte in request target"}
		}
	}
	if err := checkFields(h); err != nil {
		return dst, err
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	return appendFields(dst, h), nil
}

// AppendResponseHead appends an HTTP/1.1 status line, h's fields and the
// empty line to dst. An empty reason is replaced by the standard one. The
// checks are those of AppendRequestHead, plus a status in 100..999.
func AppendResponseHead(dst []byte, status int, reason []byte, h *Header) ([]byte, error) {
	if status < 100 || status > 999 {
		return dst, &Error{Status: 500, Reason: "invalid status code"}
	}
	for _, c := range reason {
		if !isFieldByte[c] {
			return dst, &Error{Status: 500, Reason: "invalid byte in reason phrase"}
		}
	}
	if err := checkFields(h); err != nil {
		return dst, err
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	if len(reason) > 0 {
		dst = append(dst, reason...)
	} else {
		dst = append(dst, StatusText(status)...)
	}
	dst = append(dst, "\r\n"...)
	return appendFields(dst, h), nil
}

func checkFields(h *Header) *Error {
	if h == nil {
		return nil
	}
	for i := range h.Fields {
		f := &h.Fields[i]
		if !isToken(f.Name) {
			return &Error{Status: 500, Reason: "invalid field name"}
		}
		for _, c := range f.Value {
			if !isFieldByte[c] {
				return &Error{Status: 500, Reason: "invalid byte in field value"}
			}
		}
	}
	return nil
}

func appendFields(dst []byte, h *Header) []byte {
	if h != nil {
		for i := range h.Fields {
			dst = append(dst, h.Fields[i].Name...)
			dst = append(dst, ": "...)
			dst = append(dst, trimOWS(h.Fields[i].Value)...)
			dst = append(dst, "\r\n"...)
		}
	}
	return append(dst, "\r\n"...)
}

// ChunkedWriter writes a chunked body (RFC 9112 §7.1) to an underlying
// writer, which should be buffered: each Write is three writes to it (size
// line, data, CRLF). The zero value is not usable; call Reset. Reuse one per
// connection.
type ChunkedWriter struct {
	w       io.Writer
	scratch [20]byte
	closed  bool
}

// NewChunkedWriter returns a ChunkedWriter writing to w.
func NewChunkedWriter(w io.Writer) *ChunkedWriter {
	cw := &ChunkedWriter{}
	cw.Reset(w)
	return cw
}

// Reset makes cw write a new body to w.
func (cw *ChunkedWriter) Reset(w io.Writer) {
	cw.w = w
	cw.closed = false
}

// Write writes p as one chunk. An empty p writes nothing: a zero-size chunk
// would end the body.
func (cw *ChunkedWriter) Write(p []byte) (int, error) {
	if cw.closed {
		return 0, errChunkedClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	line := strconv.AppendUint(cw.scratch[:0], uint64(len(p)), 16)
	line = append(line, '\r', '\n')
	if _, err := cw.w.Write(line); err != nil {
		return 0, err
	}
	n, err := cw.w.Write(p)
	if err != nil {
		return n, err
	}
	if _, err := cw.w.Write(cw.scratch[len(line)-2 : len(line)]); err != nil {
		return n, err
	}
	return n, nil
}

// Close writes the last chunk and the trailer fields (nil for none). It
// does not close the underlying writer.
func (cw *ChunkedWriter) Close(trailer *Header) error {
	if cw.closed {
		return errChunkedClosed
	}
	cw.closed = true
	if err := checkFields(trailer); err != nil {
		return err
	}
	if _, err := io.WriteString(cw.w, "0\r\n"); err != nil {
		return err
	}
	if trailer != nil {
		for i := range trailer.Fields {
			f := &trailer.Fields[i]
			if _, err := cw.w.Write(f.Name); err != nil {
				return err
			}
			if _, err := io.WriteString(cw.w, ": "); err != nil {
				return err
			}
			if _, err := cw.w.Write(trimOWS(f.Value)); err != nil {
				return err
			}
			if _, err := io.WriteString(cw.w, "\r\n"); err != nil {
				return err
			}
		}
	}
	_, err := io.WriteString(cw.w, "\r\n")
	return err
}

var errChunkedClosed = &Error{Status: 500, Reason: "write to closed chunked body"}

// StatusText returns the standard reason phrase for a status code, or
// "Status" for codes it does not know, so a status line is never empty.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}
