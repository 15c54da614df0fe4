package sslconn

import (
	"container/list"
	"crypto/x509"
	"sync"
)

// sessionCache holds client sessions by server name, least recently used
// first out. It owns each Session it holds and closes it when it drops it;
// an engine that resumes one takes its own reference.
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
	sess   Session
	certs  []*x509.Certificate
	chains [][]*x509.Certificate
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, byName: make(map[string]*list.Element), lru: list.New()}
}

// put takes ownership of sess.
func (sc *sessionCache) put(name string, sess Session, certs []*x509.Certificate, chains [][]*x509.Certificate) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		sess.Close()
		return
	}
	if e, ok := sc.byName[name]; ok {
		cs := e.Value.(*cachedSession)
		cs.sess.Close()
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
		cs.sess.Close()
	}
}

// with calls f with the cached session for name (or nil) while the cache
// lock keeps it open, so f can hand it to a new engine.
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

// close closes every session; later puts close theirs at once.
func (sc *sessionCache) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.closed = true
	for e := sc.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedSession).sess.Close()
	}
	sc.lru.Init()
	clear(sc.byName)
}

func (sc *sessionCache) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.lru.Len()
}
