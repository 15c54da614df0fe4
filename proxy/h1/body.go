package h1

import (
	"fmt"
	"io"
)

type bodyMode uint8

const (
	bodyNone bodyMode = iota
	bodyFixed
	bodyChunked
	bodyClose
)

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkData
	chunkDataEnd
	chunkTrailer
)

// BodyReader reads one message's body from its Reader. Obtain it from
// Reader.Body; it is an io.Reader that returns io.EOF at the end of the body
// and never reads past it, so the next message stays in the Reader.
//
// Errors are sticky. A framing error is an *Error (400 for a request body,
// 502 for a response body); a connection that ends early gives
// io.ErrUnexpectedEOF. Either way the connection must not be reused.
type BodyReader struct {
	rd        *Reader
	mode      bodyMode
	state     chunkState
	response  bool
	remaining int64 // fixed: body bytes left; chunked: bytes left of this chunk
	err       error
}

func (b *BodyReader) reset(mode bodyMode, response bool) {
	b.mode, b.state, b.response, b.remaining = mode, chunkSize, response, 0
	b.err = nil
	if mode == bodyNone {
		b.err = io.EOF
	}
}

// Done reports whether the whole body has been read (always true for a
// message without a body).
func (b *BodyReader) Done() bool { return b.err == io.EOF }

// Remaining is the number of body bytes left for a fixed-length body, or -1
// for chunked and until-close bodies.
func (b *BodyReader) Remaining() int64 {
	switch b.mode {
	case bodyFixed:
		return b.remaining
	case bodyChunked, bodyClose:
		if b.err == io.EOF {
			return 0
		}
		return -1
	default:
		return 0
	}
}

// Read reads body bytes into p.
func (b *BodyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, nil
	}
	return b.read(p, int64(len(p)))
}

func (b *BodyReader) malformed(reason string) *Error {
	if b.response {
		return badGateway(reason)
	}
	return badRequest(reason)
}

// read reads up to limit bytes into p, or drops up to limit bytes when p is
// nil (Discard).
func (b *BodyReader) read(p []byte, limit int64) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	rd := b.rd
	for {
		switch b.mode {
		case bodyFixed:
			n, err := rd.take(p, min(b.remaining, limit))
			b.remaining -= int64(n)
			if b.remaining == 0 {
				b.err = io.EOF
			} else if err != nil {
				b.err = truncated(err)
			}
			if n > 0 {
				return n, nil
			}
			return 0, b.err

		case bodyClose:
			n, err := rd.take(p, limit)
			if err != nil {
				if err == io.EOF {
					b.err = io.EOF
				} else {
					b.err = fmt.Errorf("h1: read body: %w", err)
				}
			}
			if n > 0 {
				return n, nil
			}
			return 0, b.err

		case bodyChunked:
			switch b.state {
			case chunkSize:
				line, err := rd.readLine(rd.lim.MaxChunkLineBytes, b.malformed)
				if err != nil {
					b.err = truncated(err)
					return 0, b.err
				}
				size, perr := parseChunkLine(line, b.malformed)
				if perr != nil {
					b.err = perr
					return 0, b.err
				}
				if size == 0 {
					b.state = chunkTrailer
				} else {
					b.remaining = size
					b.state = chunkData
				}

			case chunkData:
				n, err := rd.take(p, min(b.remaining, limit))
				b.remaining -= int64(n)
				if b.remaining == 0 {
					b.state = chunkDataEnd
				}
				if n > 0 {
					return n, nil
				}
				if err != nil {
					b.err = truncated(err)
					return 0, b.err
				}

			case chunkDataEnd:
				for rd.w-rd.r < 2 {
					if err := rd.fill(2); err != nil {
						b.err = truncated(err)
						return 0, b.err
					}
				}
				if rd.buf[rd.r] != '\r' || rd.buf[rd.r+1] != '\n' {
					b.err = b.malformed("chunk data not followed by CRLF")
					return 0, b.err
				}
				rd.r += 2
				b.state = chunkSize

			case chunkTrailer:
				b.err = rd.readTrailer(b.malformed)
				return 0, b.err
			}

		default:
			return 0, b.err
		}
	}
}

// truncated maps the end of the stream inside a body to
// io.ErrUnexpectedEOF and keeps every other error.
func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	return fmt.Errorf("h1: read body: %w", err)
}

// take consumes up to limit body bytes (limit > 0), copying them into p
// unless p is nil. With nothing buffered and a large p it reads straight
// into p, bounded by limit, so body bytes are not copied twice and nothing
// past the body is read.
func (rd *Reader) take(p []byte, limit int64) (int, error) {
	if rd.r == rd.w {
		if p != nil && (len(p) >= initialBufSize/2 || len(rd.buf)-rd.base < initialBufSize/2) {
			if rd.srcErr != nil {
				return 0, rd.srcErr
			}
			q := p
			if int64(len(q)) > limit {
				q = q[:limit]
			}
			for i := 0; i < maxEmptyReads; i++ {
				n, err := rd.src.Read(q)
				if n < 0 || n > len(q) {
					rd.srcErr = io.ErrShortBuffer
					return 0, rd.srcErr
				}
				if err != nil {
					rd.srcErr = err
					if n == 0 {
						return 0, err
					}
				}
				if n > 0 {
					return n, nil
				}
			}
			rd.srcErr = io.ErrNoProgress
			return 0, rd.srcErr
		}
		if err := rd.fill(1); err != nil {
			return 0, err
		}
	}
	n := rd.w - rd.r
	if int64(n) > limit {
		n = int(limit)
	}
	if p != nil {
		n = copy(p[:min(len(p), n)], rd.buf[rd.r:])
	}
	rd.r += n
	return n, nil
}

// readLine consumes one CRLF-terminated line of at most limit bytes and
// returns it without the CRLF; the slice is valid until the next read.
func (rd *Reader) readLine(limit int, malformed func(string) *Error) ([]byte, error) {
	scanned := 0
	for {
		for i := rd.r + scanned; i < rd.w; i++ {
			if rd.buf[i] != '\n' {
				continue
			}
			if i == rd.r || rd.buf[i-1] != '\r' {
				return nil, malformed("line not terminated by CRLF")
			}
			// The same bound as below, however much happened to be
			// buffered: otherwise a line's fate would depend on how the
			// peer's bytes were split into reads (the fuzzer found it).
			if i-rd.r >= limit {
				return nil, malformed("chunk line too long")
			}
			line := rd.buf[rd.r : i-1 : i-1]
			rd.r = i + 1
			return line, nil
		}
		scanned = rd.w - rd.r
		if scanned >= limit {
			return nil, malformed("chunk line too long")
		}
		if err := rd.fill(limit); err != nil {
			return nil, err
		}
	}
}

// readTrailer reads the trailer section into rd.trailer and returns io.EOF
// when it is well formed. The section is kept in the buffer, below nothing
// that will be read for this message, so its fields stay valid.
func (rd *Reader) readTrailer(malformed func(string) *Error) error {
	tooBig := func(string) *Error { return malformed("trailer section too large") }
	n, err := rd.readSection(rd.lim.MaxTrailerBytes, false, tooBig, tooBig, malformed)
	if err != nil {
		return truncated(err)
	}
	block := rd.buf[rd.r : rd.r+n-2 : rd.r+n-2]
	rd.r += n
	if perr := parseFields(block, &rd.trailer, nil, &rd.lim, malformed); perr != nil {
		if perr.Status == statusHeaderTooLarge {
			return malformed("too many trailer fields")
		}
		return perr
	}
	return io.EOF
}

// parseChunkLine parses chunk-size [ chunk-ext ] (RFC 9112 §7.1.1)
// strictly: at most 16 hexadecimal digits whose value fits an int64, then
// extensions as ";" token ["=" (token / quoted-string)]. The grammar's BWS
// around ";" and "=" is refused rather than skipped: no real client sends
// it, and parsers that do not skip it (net/http among them) would read such
// a line differently.
func parseChunkLine(line []byte, malformed func(string) *Error) (int64, *Error) {
	i := 0
	var size int64
	for i < len(line) {
		d, ok := hexVal(line[i])
		if !ok {
			break
		}
		if i == 16 {
			return 0, malformed("chunk size too long")
		}
		if size > (1<<63-1)>>4 {
			return 0, malformed("chunk size overflows")
		}
		size = size<<4 | int64(d)
		i++
	}
	if i == 0 {
		return 0, malformed("invalid chunk size")
	}
	rest := line[i:]
	for len(rest) > 0 {
		if rest[0] != ';' {
			return 0, malformed("invalid chunk extension")
		}
		rest = rest[1:]
		n := tokenLen(rest)
		if n == 0 {
			return 0, malformed("invalid chunk extension name")
		}
		rest = rest[n:]
		if len(rest) == 0 || rest[0] != '=' {
			continue
		}
		rest = rest[1:]
		if len(rest) > 0 && rest[0] == '"' {
			n = quotedLen(rest)
		} else {
			n = tokenLen(rest)
		}
		if n == 0 {
			return 0, malformed("invalid chunk extension value")
		}
		rest = rest[n:]
	}
	return size, nil
}

func hexVal(c byte) (byte, bool) {
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

func tokenLen(b []byte) int {
	n := 0
	for n < len(b) && isTchar[b[n]] {
		n++
	}
	return n
}

// quotedLen returns the length of the quoted-string b starts with, or 0.
func quotedLen(b []byte) int {
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i >= len(b) || !isFieldByte[b[i]] {
				return 0
			}
		case !isFieldByte[c]:
			return 0
		}
	}
	return 0
}
