package certs

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Server is a gantrytls.Server compiled from a backend, a base config and
// files, that Reload recompiles and swaps in atomically.
//
// A swapped-out compiled server is closed as soon as no call to Server is
// still using it, not when its last connection ends. That is safe on every
// backend because each one lets connections outlive their compiled server:
// gostd's Close has nothing to release (every conn holds its own
// crypto/tls.Config), and the OpenSSL and BoringSSL backends count a
// reference on the SSL_CTX per connection, so the context is freed with the
// last connection made from it. Connections accepted before a Reload keep
// the certificates they were accepted with until they end.
type Server struct {
	backend gantrytls.Backend
	base    gantrytls.ServerConfig
	files   ServerFiles
	slot    slot[gantrytls.Server]
	loaded  atomic.Pointer[ServerSet] // of the last successful load
	// ocsp staples and refreshes OCSP responses; nil when no certificate
	// has an OCSP source.
	ocsp *stapler
	// crls fetches CRLs from distribution points when
	// client_auth.crl_fetch is on; it lives as long as s, across reloads.
	crls *CRLFetcher
}

var _ gantrytls.Server = (*Server)(nil)

// NewServer loads files, applies them to base and compiles the result with b.
// Relative file names are relative to the working directory each time the
// files are read: Resolve them first. A load error joins one
// *gantrytls.FieldError per problem (see ServerFiles.Load); a config the
// backend refuses carries its own FieldError, relative to
// gantrytls.ServerConfig.
func NewServer(b gantrytls.Backend, base gantrytls.ServerConfig, files ServerFiles) (*Server, error) {
	base.CipherSuites = slices.Clone(base.CipherSuites)
	base.Groups = slices.Clone(base.Groups)
	base.ALPN = slices.Clone(base.ALPN)
	s := &Server{backend: b, base: base, files: files.Resolve("")}
	if fetch := s.files.ClientAuth.CRLFetch; fetch.Enabled {
		// Checked before anything is made, so a bad option is a
		// FieldError and no fetcher is started for nothing.
		if _, err := s.files.Load(); err != nil {
			return nil, err
		}
		crls, err := NewCRLFetcher(fetch, base.Logger)
		if err != nil {
			return nil, &gantrytls.FieldError{Field: "client_auth.crl_fetch.cache_dir", Err: err}
		}
		s.crls = crls
	}
	for _, kp := range s.files.Certificates {
		if kp.OCSP.set() {
			s.ocsp = newStapler(s.files.OCSP, base.Logger)
			break
		}
	}
	srv, err := s.compile()
	if err != nil {
		if s.ocsp != nil {
			s.ocsp.close()
		}
		s.closeCRLs()
		return nil, err
	}
	s.slot.init(srv)
	if s.ocsp != nil {
		s.ocsp.done = make(chan struct{})
		go s.ocsp.run(s.restaple)
	}
	return s, nil
}

func (s *Server) compile() (gantrytls.Server, error) {
	set, err := s.files.Load()
	if err != nil {
		return nil, err
	}
	if s.ocsp != nil {
		if err := s.ocsp.prepare(&set); err != nil {
			return nil, err
		}
	}
	cfg := set.Apply(s.base)
	if s.crls != nil {
		cfg.CRLSource = s.crls
		s.crls.Watch(caDistributionPoints(set.ClientCAs))
	}
	srv, err := s.backend.NewServer(&cfg)
	if err == nil {
		s.loaded.Store(&set)
	}
	if err == nil && s.ocsp != nil {
		s.ocsp.commit(set)
	}
	return srv, err
}

// Files are the files the server reads, with their names resolved.
func (s *Server) Files() ServerFiles { return s.files }

// Certificates are the certificates of the last successful load: what new
// connections are served. The caller must not modify them.
func (s *Server) Certificates() []gantrytls.Certificate {
	if p := s.loaded.Load(); p != nil {
		return p.Certificates
	}
	return nil
}

// ClientCAs are the client CA certificates of the last successful load.
// The caller must not modify them.
func (s *Server) ClientCAs() []*x509.Certificate {
	if p := s.loaded.Load(); p != nil {
		return p.ClientCAs
	}
	return nil
}

// restaple compiles the last loaded files again with the staples the
// refresher holds now, without reading the files: new handshakes get the
// new staples, and an expired one is dropped.
func (s *Server) restaple() error {
	return s.slot.replace(func() (gantrytls.Server, error) {
		set := s.ocsp.current()
		cfg := set.Apply(s.base)
		if s.crls != nil {
			cfg.CRLSource = s.crls
		}
		return s.backend.NewServer(&cfg)
	})
}

// caDistributionPoints are the http CRL distribution points of the
// configured client CAs: trusted by configuration, so followed from the
// start, before any client names its own.
func caDistributionPoints(cas []*x509.Certificate) []string {
	var out []string
	for _, ca := range cas {
		out = append(out, gantrytls.HTTPDistributionPoints(ca)...)
	}
	return out
}

func (s *Server) closeCRLs() {
	if s.crls != nil {
		_ = s.crls.Close()
	}
}

// Server wraps raw with the server side of TLS, using the certificates of
// the last successful load. After Close, it returns a Conn whose I/O fails
// with an error that matches net.ErrClosed.
func (s *Server) Server(raw net.Conn) gantrytls.Conn {
	cur := s.slot.acquire()
	if cur == nil {
		return closedConn{Conn: raw, backend: s.backend.Name()}
	}
	defer cur.release()
	return cur.v.Server(raw)
}

// Reload re-reads the files, compiles them and swaps the result in for new
// connections. On any error nothing changes: the previous certificates
// keep serving, and the error says what is wrong with the files, with the
// same FieldErrors as NewServer.
func (s *Server) Reload() error {
	if err := s.slot.replace(s.compile); err != nil {
		return fmt.Errorf("certs: reload refused, the previous certificates keep serving: %w", err)
	}
	return nil
}

// Close stops the OCSP refresher and the CRL fetcher and closes the
// compiled server. Connections already made keep working.
func (s *Server) Close() error {
	if s.ocsp != nil {
		s.ocsp.close()
	}
	err := s.slot.close()
	s.closeCRLs()
	return err
}

// Client is a gantrytls.Client compiled from a backend, a base config and
// files, that Reload recompiles and swaps in atomically. Its lifecycle is
// Server's; each compiled client has its own session cache, so a Reload
// starts with an empty one.
type Client struct {
	backend gantrytls.Backend
	base    gantrytls.ClientConfig
	files   ClientFiles
	slot    slot[gantrytls.Client]
	loaded  atomic.Pointer[ClientSet] // of the last successful load
}

var _ gantrytls.Client = (*Client)(nil)

// NewClient loads files, applies them to base and compiles the result with
// b. Errors are as NewServer's, with fields of ClientFiles and
// gantrytls.ClientConfig.
func NewClient(b gantrytls.Backend, base gantrytls.ClientConfig, files ClientFiles) (*Client, error) {
	base.CipherSuites = slices.Clone(base.CipherSuites)
	base.Groups = slices.Clone(base.Groups)
	base.ALPN = slices.Clone(base.ALPN)
	c := &Client{backend: b, base: base, files: files}
	cl, err := c.compile()
	if err != nil {
		return nil, err
	}
	c.slot.init(cl)
	return c, nil
}

func (c *Client) compile() (gantrytls.Client, error) {
	set, err := c.files.Load()
	if err != nil {
		return nil, err
	}
	cfg := set.Apply(c.base)
	cl, err := c.backend.NewClient(&cfg)
	if err == nil {
		c.loaded.Store(&set)
	}
	return cl, err
}

// Certificate is the client certificate of the last successful load, nil
// when none is configured. The caller must not modify it.
func (c *Client) Certificate() *gantrytls.Certificate {
	if p := c.loaded.Load(); p != nil {
		return p.Certificate
	}
	return nil
}

// Files are the files the client reads.
func (c *Client) Files() ClientFiles { return c.files }

// Client wraps raw with the client side of TLS for serverName, using the
// files of the last successful load.
func (c *Client) Client(raw net.Conn, serverName string) gantrytls.Conn {
	cur := c.slot.acquire()
	if cur == nil {
		return closedConn{Conn: raw, backend: c.backend.Name()}
	}
	defer cur.release()
	return cur.v.Client(raw, serverName)
}

// Reload re-reads the files and swaps the result in, as Server.Reload.
func (c *Client) Reload() error {
	if err := c.slot.replace(c.compile); err != nil {
		return fmt.Errorf("certs: reload refused, the previous files stay in use: %w", err)
	}
	return nil
}

// Close closes the compiled client. Connections already made keep working.
func (c *Client) Close() error { return c.slot.close() }

// compiled is one compiled server or client with a count of its users: one
// for being current, plus one per call in the middle of making a conn with
// it. The last to let go closes it, so a conn is never made from a closed
// one.
type compiled[T interface{ Close() error }] struct {
	v    T
	refs atomic.Int64
}

func (c *compiled[T]) acquire() bool {
	for {
		r := c.refs.Load()
		if r <= 0 {
			return false
		}
		if c.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops a reference. The error of Close reaches only the caller
// that dropped the last one; both kinds of backend close without error.
func (c *compiled[T]) release() error {
	if c.refs.Add(-1) == 0 {
		return c.v.Close()
	}
	return nil
}

// slot holds the current compiled value. Reading it takes no lock, so
// making conns never waits for a reload to read files.
type slot[T interface{ Close() error }] struct {
	mu     sync.Mutex // serialises replace and close, so reloads apply in order
	cur    atomic.Pointer[compiled[T]]
	closed atomic.Bool
}

func (s *slot[T]) init(v T) {
	c := &compiled[T]{v: v}
	c.refs.Store(1)
	s.cur.Store(c)
}

// acquire returns the current value with a reference held, or nil once the
// slot is closed. A failed acquire means the value was swapped out or closed
// between the load and the count: in the first case cur already holds its
// successor, since replace swaps before it releases.
func (s *slot[T]) acquire() *compiled[T] {
	for {
		c := s.cur.Load()
		if c.acquire() {
			return c
		}
		if s.closed.Load() {
			return nil
		}
	}
}

// replace builds a new value and swaps it in. Building runs under the lock,
// so two reloads racing cannot leave the older files in place.
func (s *slot[T]) replace(build func() (T, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return errClosed
	}
	v, err := build()
	if err != nil {
		return err
	}
	c := &compiled[T]{v: v}
	c.refs.Store(1)
	old := s.cur.Swap(c)
	// The new value is in use whatever closing the old one says.
	_ = old.release()
	return nil
}

func (s *slot[T]) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	return s.cur.Load().release()
}

var errClosed = fmt.Errorf("certs: %w", net.ErrClosed)

// closedConn is what a closed Server or Client hands out: a Conn whose
// handshake, reads and writes fail and close the raw conn, so the peer
// learns at once rather than at its timeout.
type closedConn struct {
	net.Conn
	backend string
}

var _ gantrytls.Conn = closedConn{}

func (c closedConn) fail() error {
	_ = c.Conn.Close()
	return errClosed
}

func (c closedConn) Read([]byte) (int, error)               { return 0, c.fail() }
func (c closedConn) Write([]byte) (int, error)              { return 0, c.fail() }
func (c closedConn) HandshakeContext(context.Context) error { return c.fail() }
func (c closedConn) CloseWrite() error                      { return c.fail() }
func (closedConn) ConnectionState() stdtls.ConnectionState  { return stdtls.ConnectionState{} }
func (c closedConn) Backend() string                        { return c.backend }
