package sslconn

import "errors"

// The pump and the configuration code see the TLS library only through
// these interfaces: cgo/ssl implements them with the C library
// (engine_cgo.go), the tests with a fake. Everything in them is plain data.

// Library is a linked TLS library.
type Library interface {
	// Flavor names the library and prefixes its errors: "openssl", "boringssl".
	Flavor() string
	// Describe is the library's version line for `gantry backends`.
	Describe() string
	// FixedTLS13Suites reports that the TLS 1.3 suites cannot be narrowed.
	FixedTLS13Suites() bool
	// HasGroup reports whether the library accepts a group, by library name.
	HasGroup(name string) bool
	// NewContext compiles a configuration.
	NewContext(cfg *ContextConfig) (Context, error)
}

// ContextConfig is a Server's or Client's configuration in the library's
// terms: library names for suites and groups, DER and PKCS #8 for
// certificates and keys, wire format for ALPN.
type ContextConfig struct {
	Server                     bool
	MinVersion, MaxVersion     uint16
	TLS12Ciphers, TLS13Ciphers string // colon-separated library names
	Groups                     string // colon-separated library names
	Certs                      []CertKey
	Select                     func(serverName string) int // server: index into Certs by SNI; may be nil
	ALPN                       []byte                      // length-prefixed names
	Verify                     VerifyMode
	SessionIDContext           []byte   // server
	ClientCAs                  [][]byte // server: named in the certificate request
	TicketKeys                 []byte   // server: 80 bytes per key, the first issuing; none: no tickets
	ClientSessions             bool     // client: hand new sessions over in Step.Session
}

// CertKey is a chain (DER, leaf first) and its key (PKCS #8 DER).
type CertKey struct {
	Chain [][]byte
	Key   []byte
	// SCTList is the SignedCertificateTimestampList served with the
	// chain, nil for none.
	SCTList []byte
	// OCSP is the DER OCSP response stapled with this chain (server); nil
	// staples nothing.
	OCSP []byte
}

// VerifyMode is whether a context asks for the peer's certificate.
type VerifyMode int

const (
	VerifyNone    VerifyMode = iota // do not ask
	VerifyPeer                      // ask; verify what is sent
	VerifyRequire                   // ask; fail without one
)

// Context is a compiled configuration shared by the engines made from it.
type Context interface {
	// NewEngine makes one connection. A client sends sni (if not empty) and
	// offers sess (may be nil); verify decides on the peer's chain.
	NewEngine(server bool, sni string, sess Session, verify VerifyFunc) (Engine, error)
	// Close drops the builder's reference; engines keep theirs.
	Close()
}

// VerifyFunc decides on the peer's chain (DER, leaf first) and returns the
// alert to send, or 0 to accept; malformed reports a chain the engine could
// not decode.
type VerifyFunc func(chain [][]byte, malformed error) (alert uint8)

// Session is a client session an engine made and a later one may resume.
// Its owner is the session cache, which closes it.
type Session interface{ Close() }

// Engine is one TLS connection stepped over byte buffers. Each call feeds
// what came from the peer (in) and copies what is to be sent into out; it
// never blocks on the network. Calls may come from several goroutines: the
// engine serialises them, and Close waits for a call in progress.
type Engine interface {
	Handshake(in, out []byte) Step
	Read(in, p []byte) Step
	Write(p, out []byte) Step
	Drain(out []byte) Step
	Shutdown(out []byte) Step
	State() State
	PeerChain() [][]byte
	Close()
}

// Status is how an engine step ended.
type Status int

const (
	Done     Status = iota + 1 // finished; not the zero value, which is no success
	WantRead                   // needs more bytes from the peer
	EOF                        // the peer sent close_notify
	Failed                     // fatal; Step.Err says why
	Closed                     // the engine was closed; nothing ran
)

// Step is the outcome of one engine call.
type Step struct {
	Status Status
	N      int  // plaintext bytes read into p, or taken from it
	Out    int  // bytes copied into out for the peer
	More   bool // bytes for the peer still wait: call Drain
	// Starved: the read consumed every buffered byte, so the next read goes
	// to the network before calling the engine again.
	Starved bool
	// NoCertificate: the handshake failed for want of a peer certificate.
	NoCertificate bool
	Err           error   // the library's words when Failed
	Session       Session // a new client session, now the caller's; or nil
}

// State is what a finished handshake negotiated.
type State struct {
	Version, Cipher, Curve uint16
	Resumed                bool
	ALPN                   string
	ServerName             string // the client's SNI, server side
	OCSP                   []byte // stapled response, client side
	SCTs                   []byte // SignedCertificateTimestampList, client side
}

// errClosedEndpoint is what a Conn of a closed Server or Client fails with.
var errClosedEndpoint = errors.New("tls: server or client is closed")
