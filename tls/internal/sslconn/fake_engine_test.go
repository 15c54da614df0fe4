package sslconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
)

// A fake TLS for testing the pump without C. Records are a type byte, a
// 16-bit length and the payload, in the clear:
//
//	'H' hello (client first, then the server's answer)
//	'T' a session ticket the server sends after its hello
//	'A' application data
//	'K' a request the reader must answer ('k'), like a TLS 1.3 KeyUpdate
//	'k' the answer, which the reader drops
//	'C' close_notify
//
// Anything else fails the connection, as garbage does in a real engine.

const fakeMaxPayload = 1000 // small, so that writes take several steps

func fakeRecord(typ byte, payload []byte) []byte {
	r := []byte{typ, 0, 0}
	binary.BigEndian.PutUint16(r[1:], uint16(len(payload)))
	return append(r, payload...)
}

type fakeLibrary struct {
	contexts []*ContextConfig // copies of what NewContext was given
}

func (*fakeLibrary) Flavor() string            { return "fake" }
func (*fakeLibrary) Describe() string          { return "Fake TLS 1.0" }
func (*fakeLibrary) FixedTLS13Suites() bool    { return false }
func (*fakeLibrary) HasGroup(name string) bool { return name != "X25519MLKEM768" }

func (l *fakeLibrary) NewContext(cc *ContextConfig) (Context, error) {
	cp := *cc
	cp.Certs = nil
	for _, ck := range cc.Certs {
		cp.Certs = append(cp.Certs, CertKey{Chain: ck.Chain, Key: append([]byte(nil), ck.Key...)})
	}
	cp.TicketKeys = append([]byte(nil), cc.TicketKeys...)
	l.contexts = append(l.contexts, &cp)
	return &fakeContext{}, nil
}

// fakeContext counts what it made, for the ownership tests.
type fakeContext struct {
	mu       sync.Mutex
	engines  []*fakeEngine
	offered  []Session // the sessions NewEngine was given, nil included
	closed   bool
	failWith error
}

func (c *fakeContext) NewEngine(server bool, sni string, sess Session, _ VerifyFunc) (Engine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return nil, c.failWith
	}
	e := &fakeEngine{server: server, sni: sni}
	c.engines = append(c.engines, e)
	c.offered = append(c.offered, sess)
	return e, nil
}

func (c *fakeContext) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

type fakeSession struct{ closed atomic.Int32 }

func (s *fakeSession) Close() { s.closed.Add(1) }

// fakeEngine is one side of a fake connection. Like the real engine it
// serialises its steps with a lock held only inside a step.
type fakeEngine struct {
	mu          sync.Mutex
	server, hs  bool
	sni         string
	sentHello   bool
	in, pending []byte // bytes received and not yet parsed; bytes to send
	plain       []byte // application data parsed and not yet read
	eof, closed bool
	err         error
	ticket      bool // the server sends a session ticket after its hello

	answered, acks, steps int
}

var errFakeBadRecord = errors.New("bad record")

// next takes one complete record off e.in.
func (e *fakeEngine) next() (typ byte, payload []byte, ok bool) {
	if len(e.in) > 0 && !bytes.ContainsRune([]byte("HTAKkC"), rune(e.in[0])) {
		return e.in[0], nil, true // garbage is refused at its first byte
	}
	if len(e.in) < 3 {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(e.in[1:]))
	if len(e.in) < 3+n {
		return 0, nil, false
	}
	typ, payload = e.in[0], e.in[3:3+n:3+n]
	e.in = e.in[3+n:]
	return typ, payload, true
}

// drain moves pending output into out and fills in the step's Out and More.
func (e *fakeEngine) drain(out []byte, s Step) Step {
	n := copy(out, e.pending)
	e.pending = e.pending[n:]
	s.Out, s.More = n, len(e.pending) > 0
	return s
}

// do runs one step under the lock, or reports Closed.
func (e *fakeEngine) do(in []byte, f func() Step) Step {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return Step{Status: Closed}
	}
	e.steps++
	e.in = append(e.in, in...)
	return f()
}

func (e *fakeEngine) Handshake(in, out []byte) Step {
	return e.do(in, func() Step {
		if !e.server && !e.sentHello {
			e.pending = append(e.pending, fakeRecord('H', []byte("client"))...)
			e.sentHello = true
		}
		typ, _, ok := e.next()
		switch {
		case !ok:
			return e.drain(out, Step{Status: WantRead})
		case typ != 'H':
			e.err = errFakeBadRecord
			return e.drain(out, Step{Status: Failed, Err: e.err})
		}
		if e.server {
			e.pending = append(e.pending, fakeRecord('H', []byte("server"))...)
			if e.ticket {
				e.pending = append(e.pending, fakeRecord('T', []byte("ticket"))...)
			}
		}
		e.hs = true
		return e.drain(out, Step{Status: Done})
	})
}

func (e *fakeEngine) Read(in, p []byte) Step {
	return e.do(in, func() Step {
		s := Step{Status: WantRead}
		for s.N < len(p) && e.err == nil && !e.eof {
			if len(e.plain) > 0 {
				n := copy(p[s.N:], e.plain)
				e.plain = e.plain[n:]
				s.N += n
				continue
			}
			typ, payload, ok := e.next()
			if !ok {
				s.Starved = true
				break
			}
			switch typ {
			case 'A':
				e.plain = payload
			case 'K':
				e.answered++
				e.pending = append(e.pending, fakeRecord('k', nil)...)
			case 'k':
				e.acks++
			case 'T':
				s.Session = &fakeSession{}
			case 'C':
				e.eof = true
			default:
				e.err = errFakeBadRecord
			}
		}
		s.More = len(e.pending) > 0
		switch {
		case s.N > 0:
			s.Status = Done
		case e.err != nil:
			s.Status, s.Err = Failed, e.err
		case e.eof:
			s.Status = EOF
		}
		return s
	})
}

func (e *fakeEngine) Write(p, out []byte) Step {
	return e.do(nil, func() Step {
		n := min(len(p), fakeMaxPayload)
		e.pending = append(e.pending, fakeRecord('A', p[:n])...)
		return e.drain(out, Step{Status: Done, N: n})
	})
}

func (e *fakeEngine) Drain(out []byte) Step {
	return e.do(nil, func() Step { return e.drain(out, Step{Status: Done}) })
}

func (e *fakeEngine) Shutdown(out []byte) Step {
	return e.do(nil, func() Step {
		e.pending = append(e.pending, fakeRecord('C', nil)...)
		return e.drain(out, Step{Status: Done})
	})
}

// requestAnswer queues a 'K' record, as a library queues a KeyUpdate.
func (e *fakeEngine) requestAnswer() {
	e.mu.Lock()
	e.pending = append(e.pending, fakeRecord('K', nil)...)
	e.mu.Unlock()
}

func (e *fakeEngine) counts() (answered, acks int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.answered, e.acks
}

func (e *fakeEngine) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return State{}
	}
	return State{Version: 0x0304, Cipher: 0x1301, Curve: 29, ALPN: "fake/1", ServerName: e.sni}
}

func (*fakeEngine) PeerChain() [][]byte { return nil }

func (e *fakeEngine) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
}
