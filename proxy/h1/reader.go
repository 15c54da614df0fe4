package h1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits bound what a Reader accepts. Zero fields take the defaults of
// DefaultLimits; there is no way to make a limit infinite.
type Limits struct {
	// MaxHeaderBytes bounds the whole head: start line, field lines and
	// their CRLFs. Over it a request gets 431 (414 when the request line
	// alone does not fit). It is also the most the buffer grows to while a
	// head is read.
	MaxHeaderBytes int
	// MaxHeaderCount bounds the number of field lines (431 over it); it
	// applies to trailer sections too.
	MaxHeaderCount int
	// MaxTrailerBytes bounds a chunked body's trailer section.
	MaxTrailerBytes int
	// MaxChunkLineBytes bounds one chunk-size line, extensions included.
	MaxChunkLineBytes int
}

// DefaultLimits are the limits used for zero fields of Limits.
var DefaultLimits = Limits{
	MaxHeaderBytes:    64 << 10,
	MaxHeaderCount:    100,
	MaxTrailerBytes:   16 << 10,
	MaxChunkLineBytes: 4 << 10,
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if l.MaxHeaderCount <= 0 {
		l.MaxHeaderCount = DefaultLimits.MaxHeaderCount
	}
	if l.MaxTrailerBytes <= 0 {
		l.MaxTrailerBytes = DefaultLimits.MaxTrailerBytes
	}
	if l.MaxChunkLineBytes <= 0 {
		l.MaxChunkLineBytes = DefaultLimits.MaxChunkLineBytes
	}
	return l
}

// initialBufSize is where a Reader's buffer starts; it doubles, up to
// MaxHeaderBytes, only for heads that do not fit, so an idle keep-alive
// connection with ordinary requests holds 4 KiB.
const initialBufSize = 4 << 10

// maxEmptyReads bounds how often a source may return 0, nil in a row.
const maxEmptyReads = 100

// Reader reads HTTP/1.x messages from one connection, in sequence, through a
// buffer it reuses for every message.
//
// What ReadRequest and ReadResponse return (method, target, header fields,
// reason...) are slices into that buffer: valid until the next
// ReadRequest, ReadResponse or Reset, and never modified before then, even
// while the body is read. Copy what must outlive them.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src io.Reader
	lim Limits
	buf []byte
	// Unread bytes are buf[r:w]. Bytes before base belong to the current
	// head and must not move until the next message; when the body needs
	// room the buffer is compacted down to base, or replaced, never
	// overwritten below base.
	r, w, base int
	srcErr     error
	// err is sticky once a head could not be read: the stream's position
	// is unknown, so no later message can be trusted.
	err error

	body    BodyReader
	trailer Header
}

// NewReader returns a Reader over src with lim (zero fields take defaults).
func NewReader(src io.Reader, lim Limits) *Reader {
	rd := &Reader{lim: lim}
	rd.Reset(src)
	return rd
}

// Reset makes rd read from src as if new, keeping its buffer and limits
// (pool Readers with it). Everything earlier calls returned becomes invalid.
// A zero Reader becomes usable, with DefaultLimits, through Reset.
func (rd *Reader) Reset(src io.Reader) {
	rd.lim = rd.lim.withDefaults()
	rd.body.rd = rd
	rd.src = src
	rd.r, rd.w, rd.base = 0, 0, 0
	rd.srcErr, rd.err = nil, nil
	rd.body.reset(bodyNone, false)
	rd.trailer.Reset()
	if rd.buf == nil || len(rd.buf) > initialBufSize*4 {
		// A buffer grown for one huge head is not kept for the next
		// connection.
		rd.buf = make([]byte, min(initialBufSize, rd.lim.MaxHeaderBytes))
	}
}

// Limits returns the limits rd enforces.
func (rd *Reader) Limits() Limits { return rd.lim }

// Body returns the reader of the current message's body. It reads exactly
// that body (fixed length, chunked, or until close for responses) and then
// returns io.EOF; it is empty for messages without a body. The same value is
// returned for every message.
func (rd *Reader) Body() *BodyReader { return &rd.body }

// Trailer returns the trailer fields of the current chunked body, complete
// once Body has returned io.EOF. Like the head, they stay valid until the
// next message is read.
func (rd *Reader) Trailer() *Header { return &rd.trailer }

// Buffered returns how many bytes rd has read from its source but not
// consumed.
func (rd *Reader) Buffered() int { return rd.w - rd.r }

// TakeBuffered returns the bytes rd has read from its source beyond the
// current message's consumed part, and forgets them: it is how a tunnel
// (CONNECT, Upgrade after 101) takes over the connection without losing what
// the peer already sent. The slice stays valid until rd is used again; after
// TakeBuffered rd must not be used except through Reset.
func (rd *Reader) TakeBuffered() []byte {
	b := rd.buf[rd.r:rd.w:rd.w]
	rd.r = rd.w
	rd.body.reset(bodyNone, false)
	return b
}

// Discard reads and drops the rest of the current body, at most limit bytes;
// if more remain it returns ErrBodyTooLarge and the connection must not be
// reused. It is how a server skips a body it did not want before reading the
// next request.
func (rd *Reader) Discard(limit int64) error {
	b := &rd.body
	var total int64
	for {
		// Ask for one byte past the bound, so that exceeding it shows.
		want := limit - total
		if want < 1<<62 {
			want++
		}
		n, err := b.read(nil, max(want, 1))
		total += int64(n)
		if total > limit {
			return ErrBodyTooLarge
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fill reads once from the source into the buffer, first making room for
// want contiguous unread bytes starting at r. It returns the source's error
// only when no byte arrived.
func (rd *Reader) fill(want int) error {
	if rd.srcErr != nil {
		return rd.srcErr
	}
	if rd.w == len(rd.buf) {
		rd.makeRoom(want)
	}
	for i := 0; i < maxEmptyReads; i++ {
		n, err := rd.src.Read(rd.buf[rd.w:])
		if n < 0 || n > len(rd.buf)-rd.w {
			rd.srcErr = errors.New("h1: source returned an invalid count")
			return rd.srcErr
		}
		rd.w += n
		if err != nil {
			rd.srcErr = err
			if n == 0 {
				return err
			}
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	rd.srcErr = io.ErrNoProgress
	return rd.srcErr
}

// makeRoom compacts the unread bytes down to base, and when that frees
// nothing, replaces the buffer with one that holds at least want bytes. A
// replaced buffer stays alive through the head slices that point into it.
func (rd *Reader) makeRoom(want int) {
	if rd.r > rd.base {
		n := copy(rd.buf[rd.base:], rd.buf[rd.r:rd.w])
		rd.r = rd.base
		rd.w = rd.base + n
		if rd.w < len(rd.buf) {
			return
		}
	}
	unread := rd.w - rd.r
	size := max(2*len(rd.buf), initialBufSize)
	if rd.base == 0 {
		// Head phase: grow by doubling, but never past what the caller
		// may still accept.
		size = min(size, max(want, unread+1))
	} else {
		size = max(want, unread+1, initialBufSize)
	}
	nb := make([]byte, size)
	copy(nb, rd.buf[rd.r:rd.w])
	rd.buf = nb
	rd.r, rd.w, rd.base = 0, unread, 0
}

// readSection finds the end of a head or trailer section that starts at r:
// lines ending in CRLF up to an empty line. It returns the section's length
// (final CRLF included) without consuming it. Bare LF is refused wherever it
// appears. skipLeading drops empty lines before the first line, as RFC 9112
// §2.2 asks of servers; firstLineErr is returned when the first line alone
// does not fit in limit, tooBig when the section does not.
func (rd *Reader) readSection(limit int, skipLeading bool, tooBig, firstLineErr, malformed func(string) *Error) (int, error) {
	pos := 0 // offset from r of the line being looked at
	lines := 0
	skipped := 0
	for {
		i := bytes.IndexByte(rd.buf[rd.r+pos:rd.w], '\n')
		if i < 0 {
			if rd.w-rd.r >= limit {
				if lines == 0 {
					return 0, firstLineErr("line too long")
				}
				return 0, tooBig("header section too large")
			}
			if err := rd.fill(limit); err != nil {
				if err == io.EOF {
					if rd.w == rd.r && lines == 0 && skipped == 0 {
						return 0, io.EOF
					}
					return 0, io.ErrUnexpectedEOF
				}
				return 0, fmt.Errorf("h1: read head: %w", err)
			}
			continue
		}
		lf := pos + i
		if i == 0 || rd.buf[rd.r+lf-1] != '\r' {
			return 0, malformed("line not terminated by CRLF")
		}
		if i == 1 {
			if lines == 0 && skipLeading {
				skipped += 2
				if skipped > limit {
					return 0, malformed("too many empty lines")
				}
				rd.r += 2
				continue
			}
			end := lf + 1
			if end > limit {
				return 0, tooBig("header section too large")
			}
			return end, nil
		}
		if lines == 0 && lf+1 > limit {
			return 0, firstLineErr("line too long")
		}
		if lines == 0 && skipLeading && !hasThreeParts(rd.buf[rd.r+pos:rd.r+lf-1]) {
			// An HTTP/0.9 request ("GET /") has no head to wait for: refuse
			// it now rather than when the header timeout fires.
			return 0, malformed("request line without an HTTP version")
		}
		lines++
		pos = lf + 1
	}
}

// hasThreeParts reports whether a request line has the two spaces that
// separate method, target and version.
func hasThreeParts(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	return sp >= 0 && bytes.IndexByte(line[sp+1:], ' ') >= 0
}

func (rd *Reader) startMessage() error {
	if rd.err != nil {
		return rd.err
	}
	switch rd.body.err {
	case io.EOF:
	case nil:
		return ErrBodyUnread
	default:
		return rd.body.err
	}
	rd.trailer.Reset()
	rd.base = 0
	if rd.r > 0 {
		n := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, n
	}
	if len(rd.buf) < min(initialBufSize, rd.lim.MaxHeaderBytes) {
		rd.buf = make([]byte, min(initialBufSize, rd.lim.MaxHeaderBytes))
	}
	return nil
}

// ReadRequest reads the next request head into req (reusing its storage)
// and prepares Body for its body. It returns io.EOF when the connection
// ended cleanly between requests, io.ErrUnexpectedEOF when it ended inside
// a head, an *Error when the request must be refused (answer Error.Status
// and close), and ErrBodyUnread when the previous body was not consumed.
func (rd *Reader) ReadRequest(req *Request) error {
	head, err := rd.nextHead(true, headerTooLarge, uriTooLong, badRequest)
	if err != nil {
		return err
	}
	if err := parseRequest(head, req, &rd.lim); err != nil {
		rd.err = err
		return err
	}
	switch {
	case req.Chunked:
		rd.body.reset(bodyChunked, false)
	case req.ContentLength > 0:
		rd.body.reset(bodyFixed, false)
		rd.body.remaining = req.ContentLength
	default:
		rd.body.reset(bodyNone, false)
	}
	return nil
}

// ReadResponse reads the next response head into resp and prepares Body.
// requestMethod is the method of the request it answers (nil means GET):
// responses to HEAD, 1xx, 204 and 304 have no body, and a 2xx to CONNECT or
// a 101 turns the connection into a tunnel (Tunnel is set; use
// TakeBuffered). After a 1xx other than 101, call ReadResponse again for the
// final response. Errors are as for ReadRequest, with *Error carrying 502.
func (rd *Reader) ReadResponse(resp *Response, requestMethod []byte) error {
	head, err := rd.nextHead(false, badGateway, badGateway, badGateway)
	if err != nil {
		return err
	}
	if err := parseResponse(head, resp, requestMethod, &rd.lim); err != nil {
		rd.err = err
		return err
	}
	switch {
	case resp.NoBody:
		rd.body.reset(bodyNone, true)
	case resp.Chunked:
		rd.body.reset(bodyChunked, true)
	case resp.BodyUntilClose:
		rd.body.reset(bodyClose, true)
	case resp.ContentLength > 0:
		rd.body.reset(bodyFixed, true)
		rd.body.remaining = resp.ContentLength
	default:
		rd.body.reset(bodyNone, true)
	}
	return nil
}

func headerTooLarge(reason string) *Error {
	return &Error{Status: statusHeaderTooLarge, Reason: reason}
}

func uriTooLong(reason string) *Error {
	return &Error{Status: statusURITooLong, Reason: reason}
}

// nextHead reads the next message head (request or response alike) and
// moves the reader past it; the returned slice stays valid until the next
// message. An error is kept so later calls return it too.
func (rd *Reader) nextHead(skipLeading bool, tooBig, firstLineErr, malformed func(string) *Error) ([]byte, error) {
	if err := rd.startMessage(); err != nil {
		return nil, err
	}
	n, err := rd.readSection(rd.lim.MaxHeaderBytes, skipLeading, tooBig, firstLineErr, malformed)
	if err != nil {
		rd.err = err
		return nil, err
	}
	head := rd.buf[rd.r : rd.r+n : rd.r+n]
	rd.r += n
	rd.base = rd.r
	return head, nil
}
