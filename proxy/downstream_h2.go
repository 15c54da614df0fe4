package proxy

import (
	stdtls "crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy/h2"
)

// h2Handler is the http.Handler proxy/h2 calls for each stream of one
// downstream connection.
func (p *Proxy) h2Handler(l *listener, state *stdtls.ConnectionState, backend, localPort string, peer *clientPeer, ident *mtls.Identity, ja4 string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.serveStream(l, w, r, state, backend, localPort, peer, ident, ja4) {
			// The head went out and the body cannot be completed, or the
			// request body went idle: reset the stream, so the client never
			// takes a cut body for a whole one. x/net sends INTERNAL_ERROR;
			// proxy/h2 turns the idle case into CANCEL on the wire.
			panic(http.ErrAbortHandler)
		}
	})
}

// serveStream proxies one HTTP/2 stream; it reports whether the stream must
// be reset: its response could not be completed, or its body went idle.
func (p *Proxy) serveStream(l *listener, w http.ResponseWriter, r *http.Request, state *stdtls.ConnectionState, backend, localPort string, peer *clientPeer, ident *mtls.Identity, ja4 string) bool {
	rc := http.NewResponseController(w)
	s := &Session{
		Start: time.Now(),
		ctx:   r.Context(),
		Downstream: DownstreamInfo{
			RemoteAddr:     remoteAddr(r),
			Listener:       l.name,
			Proto:          "HTTP/2.0",
			TLS:            state,
			TLSBackend:     backend,
			ClientIdentity: ident,
			JA4:            ja4,
			peer:           peer,
			localPort:      localPort,
		},
		paths: l.paths,
	}
	s.Request = RequestHead{
		Method:        r.Method,
		Scheme:        "https",
		Authority:     r.Host,
		Path:          r.RequestURI,
		ContentLength: r.ContentLength,
	}
	if state == nil {
		s.Request.Scheme = "http"
	}
	if r.Method == http.MethodConnect {
		s.Request.Path = ""
	}
	h2.HeaderFromHTTP(&s.Request.Header, r.Header)
	declared, clErr := h2ContentLength(r)
	if clErr != nil {
		s.intakeErr = clErr
		s.Request.ContentLength = -1
	}
	if r.Body != nil && r.Body != http.NoBody {
		s.Body = &countingBody{r: &h2Body{r: r.Body, rc: rc, idle: l.timeouts.H2StreamIdle, declared: declared}, s: s}
	} else {
		s.Body = http.NoBody
	}
	if clErr == nil && declared > 0 && declared <= h2PrebufferMax && (p.limits.MaxBodyBytes == 0 || declared <= p.limits.MaxBodyBytes) {
		// A small body with a length fits the client's initial window:
		// read it whole first, so that a length the DATA disagrees with
		// is refused before anything is sent upstream.
		s.intakeErr = prebuffer(s, declared)
	}
	s.interruptBody = func() { _ = rc.SetReadDeadline(time.Unix(1, 0)) }
	s.reqTrailer = func() *Header {
		if len(r.Trailer) == 0 {
			return nil
		}
		var t Header
		for k, vs := range r.Trailer {
			for _, v := range vs {
				if v != "" {
					t.Add(k, v)
				}
			}
		}
		return &t
	}
	hw := &h2Writer{w: w, rc: rc, s: s, writeTimeout: l.timeouts.ResponseWrite}
	s.w = hw
	err := p.serve(s)
	return errors.Is(err, errStreamIdle) || (err != nil && s.sent && !hw.finished)
}

func remoteAddr(r *http.Request) addrString { return addrString(r.RemoteAddr) }

// addrString is a net.Addr from net/http's string form.
type addrString string

func (a addrString) Network() string { return "tcp" }
func (a addrString) String() string  { return string(a) }

// h2Body reads a stream's request body, resetting the read deadline before
// each read so the limit is on idleness, not on the whole upload. It holds
// the DATA to the declared content-length: more, or an end before it, is
// the client's malformed request (RFC 9113 §8.1.1), never an upstream
// failure.
type h2Body struct {
	r        io.Reader
	rc       *http.ResponseController
	idle     time.Duration
	declared int64 // -1 without content-length
	got      int64
}

func (b *h2Body) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.r.Read(p)
	b.got += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errStreamIdle
	}
	if b.declared >= 0 && (b.got > b.declared || err != nil && b.got != b.declared) {
		return n, errH2BodyLength
	}
	return n, err
}

// h2Writer is the downstream response side of an HTTP/2 stream.
type h2Writer struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	s            *Session
	writeTimeout time.Duration
	finished     bool
	armedAt      time.Time // when the stream's write deadline was last set
}

// armWriteDeadline gives the next write at least 3/4 of writeTimeout. x/net
// implements a stream's write deadline as a message to its frame loop and
// a timer, so a deadline still mostly ahead is not set again: a small
// response's head and body share one.
func (h *h2Writer) armWriteDeadline() {
	now := time.Now()
	if !h.armedAt.IsZero() && now.Sub(h.armedAt) < h.writeTimeout/4 {
		return
	}
	h.armedAt = now
	_ = h.rc.SetWriteDeadline(now.Add(h.writeTimeout))
}

func (h *h2Writer) writeHead(resp *ResponseHead) error {
	dst := h.w.Header()
	h2.HeaderToHTTP(dst, &resp.Header)
	// Connection-specific fields are illegal in HTTP/2 (RFC 9113 8.2.2).
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
		delete(dst, name)
	}
	if resp.ContentLength >= 0 && bodyAllowed(h.s.Request.Method, resp.Status) {
		dst.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	h.armWriteDeadline()
	h.w.WriteHeader(resp.Status)
	return nil
}

func (h *h2Writer) Write(b []byte) (int, error) {
	h.armWriteDeadline()
	return h.w.Write(b)
}

func (h *h2Writer) flush() error { return h.rc.Flush() }

func (h *h2Writer) finish(trailer *Header) error {
	if trailer != nil {
		for _, f := range trailer.Fields {
			h.w.Header().Add(http.TrailerPrefix+string(f.Name), string(f.Value))
		}
	}
	h.finished = true
	return nil
}
