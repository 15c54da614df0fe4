package tls

import (
	"context"
	stdtls "crypto/tls"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
)

// DefaultBackend is the backend a listener or upstream uses when its config
// names none: crypto/tls, memory-safe and compiled into every build.
const DefaultBackend = "gostd"

// Backend is one TLS implementation: Go's crypto/tls, OpenSSL or BoringSSL.
type Backend interface {
	// Name is the registry name: "gostd", "openssl" or "boringssl".
	Name() string
	// Library describes the implementation and its version, for example
	// "OpenSSL 3.0.19 27 Jan 2026".
	Library() string
	// Capabilities lists what the backend can negotiate. It never offers a
	// group or suite that is missing here.
	Capabilities() Capabilities
	// NewServer validates cfg and compiles it once; the Server is then shared
	// by every connection accepted with it.
	NewServer(cfg *ServerConfig) (Server, error)
	// NewClient validates cfg and compiles it once.
	NewClient(cfg *ClientConfig) (Client, error)
}

// Server wraps accepted connections with the server side of TLS.
type Server interface {
	// Server returns the TLS side of raw. The handshake runs on the first
	// Read or Write, or explicitly through Conn.HandshakeContext.
	Server(raw net.Conn) Conn
	// Close releases what NewServer compiled. Conns already made keep working.
	Close() error
}

// Client wraps dialled connections with the client side of TLS.
type Client interface {
	// Client returns the TLS side of raw. serverName is sent as SNI (unless it
	// is an IP address, which RFC 6066 forbids) and is the name the peer
	// certificate is verified against.
	Client(raw net.Conn, serverName string) Conn
	// Close releases what NewClient compiled, including its session cache.
	Close() error
}

// Conn is a TLS connection of any backend.
type Conn interface {
	net.Conn
	// HandshakeContext runs the handshake if it has not run yet. Cancelling
	// ctx aborts it and closes the connection.
	HandshakeContext(ctx context.Context) error
	// ConnectionState is the standard library's type, filled by every backend,
	// so that code written for crypto/tls (net/http's Request.TLS,
	// x/net/http2's cipher checks) works with any backend.
	ConnectionState() stdtls.ConnectionState
	// CloseWrite sends close_notify and half-closes the connection: the peer
	// reads io.EOF, and this side can still read what the peer sends.
	CloseWrite() error
	// Backend names the backend that made this connection.
	Backend() string
}

// Capabilities is what a backend can negotiate, with names as IANA and
// IETF registries spell them.
type Capabilities struct {
	// Versions, lowest first: VersionTLS12, VersionTLS13.
	Versions []uint16
	// Groups for key exchange, in the backend's order of preference.
	Groups []Group
	// CipherSuites the backend can use, TLS 1.3 suites included.
	CipherSuites []uint16
	// FixedTLS13Suites is set when the backend always offers all of its
	// TLS 1.3 suites and cannot be told to narrow them (crypto/tls,
	// BoringSSL). A config that narrows them is then refused rather than
	// silently ignored.
	FixedTLS13Suites bool
	// ServerECH is set when the backend's servers decrypt Encrypted
	// ClientHello with ServerConfig.ECHKeys; a config with keys is refused
	// by a backend without it.
	ServerECH bool
	// ClientFingerprints is set when the backend's client can send the
	// ClientHello of another TLS client (ClientConfig.Fingerprint): gostd,
	// through uTLS.
	ClientFingerprints bool
}

// HasGroup reports whether g is among c.Groups.
func (c Capabilities) HasGroup(g Group) bool {
	for _, have := range c.Groups {
		if have == g {
			return true
		}
	}
	return false
}

// buildTags maps backends that are not always compiled in to the build tag
// that adds them, so that Lookup can say how to get a missing one.
var buildTags = map[string]string{
	"openssl":   "openssl",
	"boringssl": "boringssl",
}

var registry struct {
	sync.RWMutex
	backends map[string]Backend
}

// Register makes b available to Lookup. Backends call it from init; a second
// registration under the same name is a programming error and panics.
func Register(b Backend) {
	registry.Lock()
	defer registry.Unlock()
	if registry.backends == nil {
		registry.backends = make(map[string]Backend)
	}
	if _, dup := registry.backends[b.Name()]; dup {
		panic("tls: backend " + b.Name() + " registered twice")
	}
	registry.backends[b.Name()] = b
}

// Lookup returns the backend registered under name; an empty name is
// DefaultBackend, as in every config that leaves the backend out. For a
// backend that is known but not compiled in, the error names the build tag
// that adds it.
func Lookup(name string) (Backend, error) {
	if name == "" {
		name = DefaultBackend
	}
	registry.RLock()
	b, ok := registry.backends[name]
	registry.RUnlock()
	if ok {
		return b, nil
	}
	if tag, known := buildTags[name]; known {
		return nil, fmt.Errorf("tls: backend %q is not compiled into this binary; build with -tags %s", name, tag)
	}
	return nil, fmt.Errorf("tls: unknown backend %q (known: gostd, openssl, boringssl; compiled in: %s)",
		name, strings.Join(Names(), ", "))
}

// Backends returns every compiled-in backend, "gostd" first, then by name.
func Backends() []Backend {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]Backend, 0, len(registry.backends))
	for _, b := range registry.backends {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name() == DefaultBackend) != (out[j].Name() == DefaultBackend) {
			return out[i].Name() == DefaultBackend
		}
		return out[i].Name() < out[j].Name()
	})
	return out
}

// Names returns the names of the compiled-in backends in Backends order.
func Names() []string {
	bs := Backends()
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Name()
	}
	return names
}
