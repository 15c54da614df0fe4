package proxy

import "net"

// Hooks are the phases of a request a Go program can change, in the spirit
// of Pingora's: each is called on the request's goroutine, for HTTP/1.1 and
// HTTP/2 alike, and sees the same Session. A nil member keeps the default.
// Hooks must not keep the Session after the request ends.
type Hooks struct {
	// ConnectionFilter runs on accept, after Options.Filter and before
	// TLS: returning false closes the connection at once. It sees only the
	// remote address and the listener's name.
	ConnectionFilter func(remote net.Addr, listener string) bool
	// RequestFilter runs after the request head is read, its owned headers
	// (ForwardingOptions) removed, its path made canonical and the head
	// validated, and before any upstream is chosen. Owned headers it adds
	// are dropped; Session.ClientIP is the address sent as X-Real-IP. Returning handled=true means the hook
	// answered itself (with Session.Respond); a non-nil error ends the
	// request with the status ErrorResponse picks (default 500, or the
	// status of a *StatusError).
	RequestFilter func(s *Session) (handled bool, err error)
	// UpstreamPeer picks the server to send the request to. The default is
	// the config router: Routes, then the group's balancing and health.
	UpstreamPeer func(s *Session) (*Peer, error)
	// UpstreamRequestFilter may change the request just before it is sent
	// upstream: hop-by-hop headers are already gone and forwarding headers
	// (X-Forwarded-*, Forwarded, X-Real-IP, Via) already added; it has the
	// last word on them.
	UpstreamRequestFilter func(s *Session, req *RequestHead) error
	// ResponseFilter may change the response head before it is sent
	// downstream.
	ResponseFilter func(s *Session, resp *ResponseHead) error
	// Logging runs once per request after the response ended; err is why it
	// failed, or nil. The access log is written independently.
	Logging func(s *Session, err error)
	// ErrorResponse picks the status sent for err when no response head has
	// been sent yet. The default maps timeouts to 504, upstream failures to
	// 502 and *StatusError to its status.
	ErrorResponse func(s *Session, err error) int
}
