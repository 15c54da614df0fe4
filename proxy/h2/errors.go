package h2

import (
	"errors"
	"strconv"
)

// ErrCode is an HTTP/2 error code (RFC 9113 §7).
type ErrCode uint32

// The error codes of RFC 9113 §7.
const (
	ErrCodeNo                 ErrCode = 0x0
	ErrCodeProtocol           ErrCode = 0x1
	ErrCodeInternal           ErrCode = 0x2
	ErrCodeFlowControl        ErrCode = 0x3
	ErrCodeSettingsTimeout    ErrCode = 0x4
	ErrCodeStreamClosed       ErrCode = 0x5
	ErrCodeFrameSize          ErrCode = 0x6
	ErrCodeRefusedStream      ErrCode = 0x7
	ErrCodeCancel             ErrCode = 0x8
	ErrCodeCompression        ErrCode = 0x9
	ErrCodeConnect            ErrCode = 0xa
	ErrCodeEnhanceYourCalm    ErrCode = 0xb
	ErrCodeInadequateSecurity ErrCode = 0xc
	ErrCodeHTTP11Required     ErrCode = 0xd
)

var codeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

func (c ErrCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "ERR_0x" + strconv.FormatUint(uint64(c), 16)
}

// protoError is a violation found in what the client sent: the connection
// answers it with GOAWAY (stream 0) or RST_STREAM on stream. reason is
// for logs and metrics, never for the wire.
type protoError struct {
	stream uint32 // 0: a connection error
	code   ErrCode
	reason string
}

func (e *protoError) Error() string {
	if e.stream == 0 {
		return "http2: connection error " + e.code.String() + ": " + e.reason
	}
	return "http2: stream " + strconv.FormatUint(uint64(e.stream), 10) + " error " + e.code.String() + ": " + e.reason
}

func connError(code ErrCode, reason string) error { return &protoError{code: code, reason: reason} }

func streamError(id uint32, code ErrCode, reason string) error {
	return &protoError{stream: id, code: code, reason: reason}
}

// Errors a Stream's methods return.
var (
	// ErrStreamIdle: the request body sent nothing for StreamIdle; the
	// stream was reset with CANCEL.
	ErrStreamIdle = errors.New("http2: request body idle; stream cancelled")
	// ErrBodyLength: the DATA disagrees with the request's content-length
	// (RFC 9113 §8.1.1); the stream was reset with PROTOCOL_ERROR.
	ErrBodyLength = errors.New("http2: request DATA disagrees with its content-length")
	// ErrStreamReset: the client reset the stream, or it was reset for a
	// protocol error.
	ErrStreamReset = errors.New("http2: stream reset")
	// ErrConnClosed: the connection ended.
	ErrConnClosed = errors.New("http2: connection closed")
	// ErrWriteTimeout: the client gave no flow-control window, or did not
	// read, for WriteTimeout.
	ErrWriteTimeout = errors.New("http2: client did not accept the response in time")
	// ErrInterrupted: Interrupt ended a body read.
	ErrInterrupted = errors.New("http2: body read interrupted")
	// errFinished: a write after Finish or Reset.
	errFinished = errors.New("http2: write after the response ended")
)
