//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// Status is how one engine step ended.
type Status int

const (
	// Done: the step finished (handshake complete, data read or written).
	// It is not the zero value, so that a Step nobody filled in is no success.
	Done Status = iota + 1
	// WantRead: the library needs more bytes from the peer to go on.
	WantRead
	// EOF: the peer sent close_notify.
	EOF
	// Failed: a fatal error; Step.Err says what the library reported.
	Failed
	// Closed: the connection was freed by Close; no C call was made.
	Closed
)

// Step is what one crossing into the library reports. Every field is plain
// Go data: nothing in it points into C memory.
type Step struct {
	Status Status
	// N is the plaintext read into, or taken from, the caller's buffer.
	N int
	// Out is how many bytes for the peer were copied into the output buffer.
	Out int
	// More says the library holds further bytes for the peer: call Drain.
	More bool
	// Starved says a read used up every buffered byte and wants more, so the
	// next read should wait on the network before crossing again.
	Starved bool
	// NoCertificate says the handshake failed because the peer sent no
	// certificate where one was required.
	NoCertificate bool
	// Err is the library's error text when Status is Failed.
	Err error
	// Session is a client session the library just made, now owned by the
	// caller, or nil.
	Session *Session
}

// State is the negotiated parameters of a finished handshake.
type State struct {
	Version    uint16
	Cipher     uint16
	Curve      uint16
	Resumed    bool
	ALPN       string
	ServerName string // the SNI name the client sent (server side)
	OCSP       []byte // stapled OCSP response (client side)
	SCTs       []byte // a SignedCertificateTimestampList (client side, BoringSSL)
}

// VerifyMode is how a context asks for the peer's certificate.
type VerifyMode int

const (
	VerifyNone    VerifyMode = iota // do not ask
	VerifyPeer                      // ask, and verify what is sent
	VerifyRequire                   // ask, and fail without one
)

// VerifyFunc decides on the peer's chain (DER, leaf first) during the
// handshake and returns the TLS alert to send, or 0 to accept. malformed is
// non-nil, and chain nil, if the shim could not frame the chain.
type VerifyFunc func(chain [][]byte, malformed error) (alert uint8)

// SelectFunc returns the index, in the order added, of the certificate to
// serve for an SNI name.
type SelectFunc func(serverName string) int
