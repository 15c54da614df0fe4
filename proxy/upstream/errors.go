package upstream

import (
	"errors"
	"fmt"
)

// ErrTimeout is (wrapped in) the error of an exchange that ran out of time
// waiting on the server: a proxy answers 504.
var ErrTimeout = errors.New("upstream did not answer in time")

// ErrBadRequest is (wrapped in) the error of an exchange the request
// itself made impossible (a body shorter than its Content-Length, a target
// HTTP/2 cannot carry): a proxy answers 400, not 502.
var ErrBadRequest = errors.New("request cannot be sent upstream")

// ConnectError is a failure to reach a server (TCP or TLS): nothing was
// sent, so any request may be tried on another server.
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("upstream: connect to %s: %v", e.Addr, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// IsConnectError reports whether err is (or wraps) a ConnectError.
func IsConnectError(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce)
}

// errUnsent marks an attempt that failed before the server could have
// processed any of the request: a pooled HTTP/1.1 connection the server had
// closed while idle, or an HTTP/2 stream above the server's GOAWAY or
// refused by it. An idempotent request is then sent again on a new
// connection.
var errUnsent = errors.New("request not processed by the server")

// errBodyAbandoned is what a request body read by the HTTP/2 client returns
// once its exchange ended.
var errBodyAbandoned = errors.New("request body abandoned: the exchange ended")
