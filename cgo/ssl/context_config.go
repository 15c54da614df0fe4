//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

import "errors"

// ErrContextClosed is returned by NewConn once the Context is closed.
var ErrContextClosed = errors.New("tls: server or client is closed")

// TicketKeySize is the size of one key in ContextConfig.TicketKeys: name
// (16), AES-256 key (32), HMAC-SHA256 key (32).
const TicketKeySize = 80

// ContextConfig is everything an SSL_CTX is built from, as plain data in
// the library's own terms; turning a Gantry config into it is the caller's
// business. A Context never changes once made.
type ContextConfig struct {
	Server                 bool
	MinVersion, MaxVersion uint16 // 0x0303, 0x0304
	// TLS12Ciphers and TLS13Ciphers are colon-separated library names;
	// BoringSSL ignores TLS13Ciphers (its TLS 1.3 suites are fixed).
	TLS12Ciphers, TLS13Ciphers string
	Groups                     string // colon-separated library names
	// Certs are served by a server, or presented by a client (one). The
	// first is the default; Select indexes them in this order.
	Certs  []CertKey
	Select SelectFunc // server only; nil serves Certs[0]
	// ALPN is the protocol list in wire format (length-prefixed names): the
	// list a client offers, or the one a server picks from, in its order.
	ALPN   []byte
	Verify VerifyMode // whether to ask for the peer's certificate
	// Server only: the id a session must carry to be resumed here, the CAs
	// (DER) named in the certificate request, and the session ticket keys,
	// TicketKeySize bytes each, the first one issuing; none turns tickets off.
	SessionIDContext []byte
	ClientCAs        [][]byte
	TicketKeys       []byte
	// ClientSessions (client only) hands new sessions to Go in Step.Session;
	// off, the client sends no ticket extension.
	ClientSessions bool
}

// CertKey is a certificate chain (DER, leaf first) with its private key
// (PKCS #8 DER).
type CertKey struct {
	Chain [][]byte
	Key   []byte
	// SCTList is a SignedCertificateTimestampList served with the chain
	// to clients that ask for SCTs (server only); nil serves none.
	SCTList []byte
	// OCSP is a DER OCSP response a server staples with this chain to
	// clients that ask for it; nil staples nothing.
	OCSP []byte
}
