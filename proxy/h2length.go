package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// h2PrebufferMax bounds the request bodies of HTTP/2 requests read whole
// before the upstream is contacted: HTTP/2's initial stream window, which a
// client may fill without waiting for the proxy.
const h2PrebufferMax = 65535

var errH2BodyLength = &StatusError{Status: http.StatusBadRequest, Err: errors.New("HTTP/2 request DATA disagrees with its content-length")}

// h2ContentLength reads an HTTP/2 request's content-length fields
// strictly: every value a plain decimal (no sign, no space, no list) and
// all equal; a non-zero length on a stream that ended with its HEADERS is
// malformed too (RFC 9113 §8.1.1). net/http's reading turns "+5" into 0
// and would have the body dropped. It returns -1 without the field.
func h2ContentLength(r *http.Request) (int64, error) {
	vals := r.Header["Content-Length"]
	if len(vals) == 0 {
		return -1, nil
	}
	var n int64 = -1
	for _, v := range vals {
		m, ok := h1.ParseContentLength(v)
		if !ok || (n >= 0 && m != n) {
			return -1, errMalformedLength(v)
		}
		n = m
	}
	if n > 0 && (r.Body == nil || r.Body == http.NoBody) {
		return -1, &StatusError{Status: http.StatusBadRequest, Err: errors.New("HTTP/2 request declares a content-length but has no DATA")}
	}
	return n, nil
}

func errMalformedLength(v string) error {
	return &StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("HTTP/2 request content-length %q is not one plain decimal", v)}
}

// prebuffer reads a small declared body whole and puts it back as the
// session's body; the h2Body under s.Body refuses DATA that disagrees with
// the length.
func prebuffer(s *Session, n int64) error {
	buf := make([]byte, n)
	if _, err := io.ReadFull(s.Body, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errH2BodyLength
		}
		return err
	}
	var one [1]byte
	if k, err := s.Body.Read(one[:]); k > 0 || err != io.EOF {
		if err == nil || k > 0 {
			return errH2BodyLength
		}
		return err
	}
	s.Body = &byteBody{b: buf}
	return nil
}

// byteBody is a request body held in memory.
type byteBody struct{ b []byte }

func (r *byteBody) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
