package h1

import (
	"errors"
	"strconv"
)

// Error is a message the codec refused. Status is the response a server
// sends before closing the connection: 400 for bad framing or syntax, 414
// for a request line over the limit, 431 for a header section over the
// limits, 501 for an unknown transfer coding, 505 for an HTTP version other
// than 1.0 and 1.1. Errors from ReadResponse and from a response body carry
// 502, the status a proxy answers its own client with.
//
// After an *Error the Reader is in an undefined state: the connection must
// be closed, never reused.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return "h1: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Sentinel errors that are not a peer's fault in the same way.
var (
	// ErrBodyUnread is returned by ReadRequest and ReadResponse when the
	// previous message's body was not read to its end: the next message
	// cannot be found. Drain it with Discard, or close the connection.
	ErrBodyUnread = errors.New("h1: previous message body not fully read")
	// ErrBodyTooLarge is returned by Discard when more than its bound remains.
	ErrBodyTooLarge = errors.New("h1: body larger than discard bound")
)

// Statuses of Error.
const (
	statusBadRequest     = 400
	statusURITooLong     = 414
	statusHeaderTooLarge = 431
	statusNotImplemented = 501
	statusBadGateway     = 502
	statusVersionNotSupp = 505
)

func badRequest(reason string) *Error { return &Error{Status: statusBadRequest, Reason: reason} }

func badGateway(reason string) *Error { return &Error{Status: statusBadGateway, Reason: reason} }

// IsError reports whether err is (or wraps) an *Error and returns it.
func IsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
