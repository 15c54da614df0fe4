package clienthello

import (
	"errors"
	"fmt"
	"io"
)

// DefaultLimit bounds a ClientHello (handshake header included) when the
// caller passes 0. 16 KiB holds today's largest hellos (post-quantum key
// shares, long PSK identities) several times over.
const DefaultLimit = 16 << 10

// Record layer constants (RFC 8446, section 5.1).
const (
	recordHeaderLen  = 5
	maxFragmentLen   = 1 << 14
	recordTypeHandsh = 22
	recordVersionHi  = 0x03 // SSL 3.0 to TLS 1.3 records all start so
	handshakeHeadLen = 4
	typeClientHello  = 1
)

// Errors Read returns; each is one reason a caller may count by. Wrapped
// errors carry detail after them.
var (
	// ErrNotTLS: the first bytes are not a TLS handshake record.
	ErrNotTLS = errors.New("clienthello: not a TLS handshake record")
	// ErrTooLarge: the hello announces more bytes than the limit allows.
	ErrTooLarge = errors.New("clienthello: ClientHello larger than the limit")
	// ErrTooManyRecords: the hello is split over more records than its
	// length needs, the fragmentation trick some evasion tools use.
	ErrTooManyRecords = errors.New("clienthello: ClientHello spread over more records than needed")
	// ErrMalformed: the bytes do not parse as a ClientHello.
	ErrMalformed = errors.New("clienthello: malformed ClientHello")
)

// Read reads one ClientHello from r: exactly the TLS records that carry it
// and not a byte more, so that raw, replayed in front of r, gives a TLS
// library the very stream the client sent. limit bounds the handshake
// message (its 4-byte header included); 0 means DefaultLimit.
//
// On error raw holds what was read so far; it is meant for nothing but
// counting, as the connection is to be closed.
func Read(r io.Reader, limit int) (h *Hello, raw []byte, err error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	var msg []byte
	msgLen := -1 // unknown until the handshake header is in
	records, needed := 0, 1
	for msgLen < 0 || len(msg) < msgLen {
		if records == needed && msgLen >= 0 {
			return nil, raw, ErrTooManyRecords
		}
		var hdr [recordHeaderLen]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, raw, fmt.Errorf("clienthello: reading a record header: %w", err)
		}
		if hdr[0] != recordTypeHandsh || hdr[1] != recordVersionHi {
			return nil, append(raw, hdr[:]...), ErrNotTLS
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || n > maxFragmentLen {
			return nil, append(raw, hdr[:]...), fmt.Errorf("%w: record of %d bytes", ErrMalformed, n)
		}
		// The record may not run past the hello the first one announced;
		// before that is known, it may not run past the limit.
		room := limit - len(msg)
		if msgLen >= 0 {
			room = msgLen - len(msg)
		}
		if n > room {
			if msgLen < 0 || msgLen > limit {
				return nil, append(raw, hdr[:]...), ErrTooLarge
			}
			return nil, append(raw, hdr[:]...), fmt.Errorf("%w: bytes after the ClientHello in its records", ErrMalformed)
		}
		if raw == nil {
			// The usual hello is one record: one allocation holds it,
			// and the message is parsed where it lies.
			raw = make([]byte, 0, recordHeaderLen+n)
		}
		raw = append(raw, hdr[:]...)
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if _, err := io.ReadFull(r, raw[start:]); err != nil {
			return nil, raw[:start], fmt.Errorf("clienthello: reading a record: %w", err)
		}
		if records == 0 {
			msg = raw[start:]
		} else {
			msg = append(msg[:len(msg):len(msg)], raw[start:]...)
		}
		records++
		if msgLen < 0 && len(msg) >= handshakeHeadLen {
			if msg[0] != typeClientHello {
				return nil, raw, fmt.Errorf("%w: handshake message type %d", ErrMalformed, msg[0])
			}
			msgLen = handshakeHeadLen + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if msgLen > limit {
				return nil, raw, ErrTooLarge
			}
			if len(msg) > msgLen {
				return nil, raw, fmt.Errorf("%w: bytes after the ClientHello in its records", ErrMalformed)
			}
			needed = (msgLen + maxFragmentLen - 1) / maxFragmentLen
			if records > needed {
				return nil, raw, ErrTooManyRecords
			}
		}
	}
	h, err = Parse(msg)
	if err != nil {
		return nil, raw, err
	}
	return h, raw, nil
}
