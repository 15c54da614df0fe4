package proxy

import (
	"errors"
	"io"
	"net/http"
)

// h2PrebufferMax bounds the request bodies of HTTP/2 requests read whole
// before the upstream is contacted: HTTP/2's initial stream window, which a
// client may fill without waiting for the proxy.
const h2PrebufferMax = 65535

var errH2BodyLength = &StatusError{Status: http.StatusBadRequest, Err: errors.New("HTTP/2 request DATA disagrees with its content-length")}

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
