package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/gantry-proxy/gantry/proxy/h1"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = errors.New("proxy: server closed")

// ErrNoRoute is returned (as a 404 StatusError) when no route matches.
var ErrNoRoute = errors.New("proxy: no route matches the request")

// ErrNoServers is returned (as a 502 StatusError) when the route's
// upstream group has no server: its names have not resolved yet.
var ErrNoServers = errors.New("proxy: the upstream group has no server (its names have not resolved)")

// StatusError ends a request with Status; hooks return it to refuse a
// request with a specific code.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("proxy: status %d", e.Status)
	}
	return fmt.Sprintf("proxy: status %d: %v", e.Status, e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// Errors that decide the status of a failed request.
var (
	// errResponded is returned internally when a hook answered itself.
	errResponded    = errors.New("proxy: response already sent")
	errBodyTooLarge = &StatusError{Status: http.StatusRequestEntityTooLarge, Err: errors.New("request body too large")}
	errBodyTimeout  = &StatusError{Status: http.StatusRequestTimeout, Err: errors.New("request body idle too long")}
	errBodyCut      = &StatusError{Status: http.StatusBadRequest, Err: errors.New("client ended the connection inside the request body")}
	// errStreamIdle ends an HTTP/2 stream whose request body stayed idle
	// past h2_stream_idle: the stream is reset with CANCEL, never answered.
	errStreamIdle = &StatusError{Status: http.StatusRequestTimeout, Err: errors.New("HTTP/2 request body idle too long; stream reset with CANCEL")}
)

// errorStatus maps an error to the status sent when no response head went
// out yet.
func (p *Proxy) errorStatus(s *Session, err error) int {
	if p.hooks.ErrorResponse != nil {
		if st := p.hooks.ErrorResponse(s, err); st >= 400 && st <= 599 {
			return st
		}
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	if he, ok := h1.IsError(err); ok {
		return he.Status
	}
	switch {
	case errors.Is(err, upstream.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, upstream.ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}
