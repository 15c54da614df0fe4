//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include "shim.h"
import "C"

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"

	gtls "github.com/gantry-proxy/gantry/tls"
)

var errClosedEndpoint = errors.New("tls: server or client is closed")

// certSelector is what the SNI callback sees: the leaves only, so the handle
// keeps no Server alive.
type certSelector struct {
	leaves []*x509.Certificate
}

func (s *certSelector) pick(name string) int {
	for i, leaf := range s.leaves {
		if leaf != nil && leaf.VerifyHostname(name) == nil {
			return i
		}
	}
	return 0
}

// Server is a compiled ServerConfig: one SSL_CTX shared by its Conns.
type Server struct {
	closed   atomic.Bool
	core     *releaser
	owner    *ctxOwner
	verifier *gtls.PeerVerifier
	timeout  time.Duration
}

// NewServer validates cfg and compiles it into an SSL_CTX.
func NewServer(cfg *gtls.ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := cfg.Params(Capabilities())
	if err != nil {
		return nil, err
	}
	var sel cgo.Handle
	if len(cfg.Certificates) > 1 {
		cs := &certSelector{}
		for _, c := range cfg.Certificates {
			leaf := c.Leaf
			if leaf == nil {
				if leaf, err = x509.ParseCertificate(c.Chain[0]); err != nil {
					return nil, fmt.Errorf("%s: parse certificate: %w", Flavor, err)
				}
			}
			cs.leaves = append(cs.leaves, leaf)
		}
		sel = cgo.NewHandle(cs)
	}
	owner, err := newCtx(true, sel)
	if err != nil {
		if sel != 0 {
			sel.Delete()
		}
		return nil, err
	}
	if err := buildServer(owner, cfg, params); err != nil {
		owner.release()
		return nil, err
	}
	s := &Server{
		core:     &releaser{owner: owner},
		owner:    owner,
		verifier: gtls.NewClientVerifier(cfg),
		timeout:  cfg.Timeout(),
	}
	runtime.AddCleanup(s, func(r *releaser) { r.release() }, s.core)
	return s, nil
}

func buildServer(o *ctxOwner, cfg *gtls.ServerConfig, p gtls.Params) error {
	if err := configure(o, p, false); err != nil {
		return err
	}
	for i, c := range cfg.Certificates {
		if err := addCert(o, c); err != nil {
			return fmt.Errorf("certificate %d: %w", i, err)
		}
	}
	if err := setALPN(o, true, cfg.ALPN); err != nil {
		return err
	}
	mode := C.GANTRY_VERIFY_NONE
	switch cfg.ClientAuth {
	case gtls.ClientAuthRequest, gtls.ClientAuthVerifyIfGiven:
		mode = C.GANTRY_VERIFY_PEER
	case gtls.ClientAuthRequire, gtls.ClientAuthRequireAndVerify:
		mode = C.GANTRY_VERIFY_REQUIRE
	}
	C.gantry_ctx_set_verify(o.ctx, C.int(mode))
	// Sessions carry the client's identity, so one may resume only where
	// the same client-auth rules hold: the context id is derived from them.
	sid := sha256.New()
	fmt.Fprintf(sid, "gantry client auth %d\n", cfg.ClientAuth)
	for _, ca := range cfg.ClientCAs {
		sid.Write(ca.Raw)
	}
	sp, sn := cbytes(sid.Sum(nil))
	if C.gantry_ctx_set_sid_ctx(o.ctx, sp, sn) != 1 {
		return fmt.Errorf("%s: set session id context", Flavor)
	}
	if cfg.ClientAuth != gtls.ClientAuthNone {
		for _, ca := range cfg.ClientCAs {
			dp, dn := cbytes(ca.Raw)
			if C.gantry_ctx_add_client_ca(o.ctx, dp, dn) != 1 {
				return fmt.Errorf("%s: add client CA %q", Flavor, ca.Subject)
			}
		}
	}
	return setTickets(o, cfg.DisableSessionTickets, cfg.SessionTicketKeys)
}

// Server returns the server side of TLS over raw.
func (s *Server) Server(raw net.Conn) gtls.Conn {
	if s.closed.Load() {
		return &Conn{raw: raw, initErr: errClosedEndpoint}
	}
	return newConn(raw, s.owner, false, "", s.verifier, s.timeout, nil)
}

// Close releases the context; Conns already made keep their reference.
func (s *Server) Close() error {
	s.closed.Store(true)
	s.core.release()
	return nil
}

// Client is a compiled ClientConfig with its session cache.
type Client struct {
	closed   atomic.Bool
	core     *releaser
	owner    *ctxOwner
	cfg      *gtls.ClientConfig
	timeout  time.Duration
	cache    *sessionCache
	verifier *gtls.PeerVerifier
}

// NewClient validates cfg and compiles it into an SSL_CTX.
func NewClient(cfg *gtls.ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := cfg.Params(Capabilities())
	if err != nil {
		return nil, err
	}
	owner, err := newCtx(false, 0)
	if err != nil {
		return nil, err
	}
	if err := buildClient(owner, cfg, params); err != nil {
		owner.release()
		return nil, err
	}
	c := &Client{
		owner:    owner,
		timeout:  cfg.Timeout(),
		verifier: gtls.NewServerVerifier(cfg),
	}
	if !cfg.DisableSessionCache {
		c.cache = newSessionCache(cfg.CacheSize())
	}
	cache := c.cache
	c.core = &releaser{owner: owner, then: func() {
		if cache != nil {
			cache.close()
		}
	}}
	runtime.AddCleanup(c, func(r *releaser) { r.release() }, c.core)
	return c, nil
}

func buildClient(o *ctxOwner, cfg *gtls.ClientConfig, p gtls.Params) error {
	if err := configure(o, p, true); err != nil {
		return err
	}
	if cfg.Certificate != nil {
		if err := addCert(o, *cfg.Certificate); err != nil {
			return fmt.Errorf("client certificate: %w", err)
		}
	}
	if err := setALPN(o, false, cfg.ALPN); err != nil {
		return err
	}
	// The callback always runs, even with verification off, so that the
	// peer chain reaches ConnectionState through one path.
	C.gantry_ctx_set_verify(o.ctx, C.GANTRY_VERIFY_PEER)
	C.gantry_ctx_set_client_cache(o.ctx, cbool(!cfg.DisableSessionCache))
	return nil
}

// Client returns the client side of TLS over raw, for serverName.
func (c *Client) Client(raw net.Conn, serverName string) gtls.Conn {
	if c.closed.Load() {
		return &Conn{raw: raw, isClient: true, initErr: errClosedEndpoint}
	}
	return newConn(raw, c.owner, true, serverName, c.verifier, c.timeout, c.cache)
}

// Close releases the context and every cached session.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.core.release()
	return nil
}

// sessionCache holds client sessions by server name, least recently used
// first out. It owns one reference on each SSL_SESSION; an SSL that resumes
// takes its own.
type sessionCache struct {
	mu     sync.Mutex
	max    int
	byName map[string]*list.Element
	lru    *list.List // of *cachedSession, most recent first
	closed bool
}

// cachedSession remembers what was verified with the session, because a
// resumed handshake carries no certificates to verify again.
type cachedSession struct {
	name   string
	sess   *C.SSL_SESSION
	certs  []*x509.Certificate
	chains [][]*x509.Certificate
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, byName: make(map[string]*list.Element), lru: list.New()}
}

// put takes ownership of sess.
func (sc *sessionCache) put(name string, sess *C.SSL_SESSION, certs []*x509.Certificate, chains [][]*x509.Certificate) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		C.gantry_session_free(sess)
		return
	}
	if e, ok := sc.byName[name]; ok {
		cs := e.Value.(*cachedSession)
		C.gantry_session_free(cs.sess)
		cs.sess, cs.certs, cs.chains = sess, certs, chains
		sc.lru.MoveToFront(e)
		return
	}
	sc.byName[name] = sc.lru.PushFront(&cachedSession{name: name, sess: sess, certs: certs, chains: chains})
	for sc.lru.Len() > sc.max {
		e := sc.lru.Back()
		cs := e.Value.(*cachedSession)
		sc.lru.Remove(e)
		delete(sc.byName, cs.name)
		C.gantry_session_free(cs.sess)
	}
}

// with calls f with the cached session for name (or nil) while the cache
// lock keeps it alive, so f can hand it to SSL_set_session.
func (sc *sessionCache) with(name string, f func(*cachedSession)) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.byName[name]; ok && !sc.closed {
		sc.lru.MoveToFront(e)
		f(e.Value.(*cachedSession))
		return
	}
	f(nil)
}

func (sc *sessionCache) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.closed = true
	for e := sc.lru.Front(); e != nil; e = e.Next() {
		C.gantry_session_free(e.Value.(*cachedSession).sess)
	}
	sc.lru.Init()
	clear(sc.byName)
}

func (sc *sessionCache) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.lru.Len()
}
