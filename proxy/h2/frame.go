package h2

import (
	"encoding/binary"
	"errors"
	"io"
)

// frameType is an HTTP/2 frame type (RFC 9113 §6).
type frameType uint8

const (
	frameData         frameType = 0x0
	frameHeaders      frameType = 0x1
	framePriority     frameType = 0x2
	frameRSTStream    frameType = 0x3
	frameSettings     frameType = 0x4
	framePushPromise  frameType = 0x5
	framePing         frameType = 0x6
	frameGoAway       frameType = 0x7
	frameWindowUpdate frameType = 0x8
	frameContinuation frameType = 0x9
)

// Frame flags; ACK shares END_STREAM's bit on SETTINGS and PING.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// frameHeaderLen is the fixed part of every frame.
const frameHeaderLen = 9

// defaultMaxFrameSize is both the frame size Gantry reads (it never
// advertises a larger one: bigger frames buy a proxy nothing and cost
// memory per connection) and the peer's until its SETTINGS say otherwise.
const defaultMaxFrameSize = 16384

// maxWindow is the largest flow-control window (RFC 9113 §6.9.1).
const maxWindow = 1<<31 - 1

// frameHeader is the parsed 9-byte frame header.
type frameHeader struct {
	length uint32
	typ    frameType
	flags  uint8
	stream uint32
}

func (h frameHeader) has(f uint8) bool { return h.flags&f != 0 }

// frameReader reads frames into one reused payload buffer: a frame's
// payload is valid until the next read. It checks only what every frame
// shares (the size limit); the connection judges the rest.
type frameReader struct {
	r       io.Reader
	hdr     [frameHeaderLen]byte
	payload []byte
	max     uint32
}

// errFrameTooLarge is a frame over the size Gantry reads: FRAME_SIZE_ERROR
// on the connection (RFC 9113 §4.2).
var errFrameTooLarge = errors.New("frame larger than SETTINGS_MAX_FRAME_SIZE")

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, max: defaultMaxFrameSize}
}

// next reads one frame. On errFrameTooLarge the header is returned and the
// payload left unread: the connection is ending.
func (fr *frameReader) next() (frameHeader, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return frameHeader{}, nil, err
	}
	h := parseFrameHeader(fr.hdr[:])
	if h.length > fr.max {
		return h, nil, errFrameTooLarge
	}
	if int(h.length) > cap(fr.payload) {
		// Grown on demand: an idle connection, or one that only ever
		// sees small frames, holds no frame-sized buffer.
		fr.payload = make([]byte, max(h.length, 512))
	}
	p := fr.payload[:h.length]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, p, nil
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    frameType(b[3]),
		flags:  b[4],
		stream: binary.BigEndian.Uint32(b[5:9]) & maxWindow,
	}
}

// appendFrameHeader appends a frame header for a payload of length n.
func appendFrameHeader(dst []byte, typ frameType, flags uint8, stream uint32, n int) []byte {
	return append(dst, byte(n>>16), byte(n>>8), byte(n), byte(typ), flags,
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
}

// unpad strips the padding of a DATA or HEADERS payload (RFC 9113 §6.1):
// it returns the content and the pad bytes counted against flow control
// (the length octet included).
func unpad(h frameHeader, p []byte) ([]byte, int, error) {
	if !h.has(flagPadded) {
		return p, 0, nil
	}
	if len(p) == 0 {
		return nil, 0, connError(ErrCodeFrameSize, "padded frame without a pad length")
	}
	pad := int(p[0])
	if pad >= len(p) {
		return nil, 0, connError(ErrCodeProtocol, "padding longer than the frame")
	}
	return p[1 : len(p)-pad], pad + 1, nil
}
