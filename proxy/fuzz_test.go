package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/proxy/canon"
	"github.com/gantry-proxy/gantry/proxy/h1"
	"github.com/gantry-proxy/gantry/proxy/h1/h1test"
)

// These targets push raw HTTP/1 bytes through the whole pipeline (listener,
// codec, validation, hooks, upstream pool, relay) and judge what comes out
// the other side with net/http, a parser written by other people. One proxy
// and one origin serve every input of a fuzz process; inputs run one at a
// time (fuzzing with -parallel 1, and a mutex besides), so whatever the
// origin sees between the start and the end of an input belongs to it.

// fuzzClientTimeout bounds one input's exchange. Every proxy timeout below is
// shorter, so reaching it means the proxy neither answered nor closed.
const fuzzClientTimeout = 8 * time.Second

// fuzzSettleTimeout bounds the wait for the origin to finish reading what
// the proxy sent for one input.
const fuzzSettleTimeout = 3 * time.Second

// fuzzTimeouts keep a stuck exchange short without ever cutting a healthy
// one on a loaded machine.
func fuzzTimeouts() Timeouts {
	return Timeouts{
		RequestHeader:          2 * time.Second,
		RequestBody:            2 * time.Second,
		ResponseWrite:          3 * time.Second,
		KeepaliveIdle:          2 * time.Second,
		UpstreamConnect:        2 * time.Second,
		UpstreamResponseHeader: 3 * time.Second,
		UpstreamRead:           3 * time.Second,
		UpstreamWrite:          3 * time.Second,
		ShutdownGrace:          time.Second,
	}
}

// fuzzProxy is a plaintext proxy in front of one upstream, restartable: an
// input that broke an invariant may have left a poisoned connection in the
// upstream pool, which must not fail the next input too.
type fuzzProxy struct {
	opts Options
	p    *Proxy
	addr string
	done chan error
}

// newFuzzProxy runs a proxy in front of upstream for the life of tb.
// maxIdle < 0 disables upstream pooling.
func newFuzzProxy(tb testing.TB, upstream string, maxIdle int, hooks Hooks) *fuzzProxy {
	tb.Helper()
	fp := &fuzzProxy{opts: Options{
		Listeners: []ListenerOptions{{Name: "fuzz", Addr: "127.0.0.1:0"}},
		// Passive health checks off: a fuzzed response must not eject the
		// only server and change how the next input is treated.
		Upstreams: map[string]*UpstreamGroupOptions{"app": {Addrs: []string{upstream}, MaxIdleConns: maxIdle, Health: HealthOptions{MaxFails: -1}}},
		Routes:    []RouteOptions{{Upstream: "app"}},
		Timeouts:  fuzzTimeouts(),
		Hooks:     hooks,
	}}
	require.NoError(tb, fp.start())
	tb.Cleanup(func() { assert.NoError(tb, fp.stop()) })
	return fp
}

func (fp *fuzzProxy) start() error {
	p, err := New(fp.opts)
	if err != nil {
		return err
	}
	if err := p.Listen(); err != nil {
		return err
	}
	fp.p, fp.addr, fp.done = p, p.Addrs()[0].String(), make(chan error, 1)
	go func() { fp.done <- p.Serve(nil) }()
	return nil
}

func (fp *fuzzProxy) stop() error {
	_ = fp.p.Close()
	select {
	case err := <-fp.done:
		if !errors.Is(err, ErrServerClosed) {
			return fmt.Errorf("serve ended with %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("serve did not return after Close")
	}
}

// restart replaces the proxy after a failed input.
func (fp *fuzzProxy) restart(t *testing.T) {
	assert.NoError(t, fp.stop())
	require.NoError(t, fp.start())
}

// fuzzListen runs serve on every connection accepted on a loopback port
// until tb ends, then closes the listener and every connection it accepted.
func fuzzListen(tb testing.TB, serve func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					_ = c.Close()
				}()
				serve(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// fuzzExchange writes data to the proxy, half-closes, and reads until the
// proxy closes. timedOut reports that it did neither within
// fuzzClientTimeout.
func fuzzExchange(tb testing.TB, addr string, data []byte) (out []byte, timedOut bool) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, fuzzClientTimeout)
	require.NoError(tb, err, "the proxy must keep accepting")
	defer c.Close()
	require.NoError(tb, c.SetDeadline(time.Now().Add(fuzzClientTimeout)))
	// Reading runs beside writing: a pipelined input's responses could
	// otherwise fill the socket buffers and stall both sides.
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(c)
		got <- result{b, err}
	}()
	// The proxy may refuse and close before reading everything: a failed
	// write is part of the game.
	if _, err := c.Write(data); err == nil {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	r := <-got
	return r.b, errors.Is(r.err, os.ErrDeadlineExceeded)
}

// fuzzQuote shortens b for a failure message.
func fuzzQuote(b []byte) string {
	const limit = 600
	if len(b) > limit {
		return fmt.Sprintf("%q...(%d bytes)", b[:limit], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// fuzzHead returns the head of the message at the start of b, up to and
// including the first CRLFCRLF, or nil when there is none.
func fuzzHead(b []byte) []byte {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return nil
	}
	return b[:i+4]
}

// fuzzFraming checks a head the proxy wrote (to the origin or to the client)
// for everything that lets two parsers frame the message differently: bare
// CR or LF, obs-fold, whitespace before a colon, repeated or combined
// Content-Length and Transfer-Encoding, a coding other than chunked. It
// returns the Host field count, and one string per defect.
func fuzzFraming(head []byte) (hosts int, problems []string) {
	if len(head) < 4 || !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		return 0, []string{"head does not end with CRLFCRLF"}
	}
	lines := strings.Split(string(head[:len(head)-4]), "\r\n")
	var cl, te int
	for i, line := range lines {
		if strings.ContainsAny(line, "\r\n") {
			problems = append(problems, fmt.Sprintf("bare CR or LF in line %q", line))
		}
		if i == 0 {
			continue
		}
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			problems = append(problems, fmt.Sprintf("obs-fold or empty field line %q", line))
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			problems = append(problems, fmt.Sprintf("field line without a name %q", line))
			continue
		}
		name := line[:colon]
		if strings.ContainsAny(name, " \t") {
			problems = append(problems, fmt.Sprintf("whitespace in field name %q", line))
		}
		value := strings.Trim(line[colon+1:], " \t")
		switch strings.ToLower(name) {
		case "host":
			hosts++
		case "content-length":
			cl++
		case "transfer-encoding":
			te++
			if !strings.EqualFold(value, "chunked") {
				problems = append(problems, fmt.Sprintf("Transfer-Encoding other than chunked: %q", value))
			}
		}
	}
	if cl > 1 || te > 1 || cl > 0 && te > 0 {
		problems = append(problems, fmt.Sprintf("ambiguous framing: %d Content-Length and %d Transfer-Encoding fields", cl, te))
	}
	return hosts, problems
}

// fuzzMsg is one request as a parser saw it.
type fuzzMsg struct {
	method, target, host string
	body                 []byte
}

func (m fuzzMsg) String() string {
	return fmt.Sprintf("%s %q host=%q body=%s", m.method, m.target, m.host, fuzzQuote(m.body))
}

// fuzzRef is what the proxy's own codec, run directly on the input, makes of
// it: the requests the proxy may forward, at most, and in this order.
type fuzzRef struct {
	reqs []fuzzMsg
	// headRefused: the very first head is refused with an *h1.Error, so
	// nothing of this input may reach the origin.
	headRefused bool
	// bodyFailed: the request after reqs has a valid head but its body is
	// malformed or cut short, so a streaming proxy may have started
	// forwarding it; the origin then sees it cut by a closed connection.
	bodyFailed bool
}

func fuzzReference(data []byte) fuzzRef {
	rd := h1.NewReader(bytes.NewReader(data), h1.Limits{})
	var req h1.Request
	var ref fuzzRef
	for {
		err := rd.ReadRequest(&req)
		if err != nil {
			_, refused := h1.IsError(err)
			ref.headRefused = refused && len(ref.reqs) == 0
			return ref
		}
		m := fuzzMsg{method: string(req.Method), target: string(req.AppendOriginForm(nil)), host: string(req.Host)}
		// The proxy forwards the canonical path (the listener's default
		// policy), and answers 400 itself to a path that policy refuses:
		// such a request never reaches the origin, and whether the
		// connection goes on after it is the proxy's choice.
		refusedPath := false
		if m.method != http.MethodConnect && m.target != "*" {
			if t, cerr := canon.Target(m.target, &canon.Policy{}); cerr == nil {
				m.target = t
			} else {
				refusedPath = true
			}
		}
		if m.body, err = io.ReadAll(rd.Body()); err != nil {
			ref.bodyFailed = !refusedPath
			return ref
		}
		if refusedPath {
			if !req.KeepAlive {
				return ref
			}
			continue
		}
		ref.reqs = append(ref.reqs, m)
		if !req.KeepAlive || req.Upgrade != nil || string(req.Method) == http.MethodConnect {
			return ref
		}
	}
}

// fuzzReqHarness is the origin of FuzzPipelineRequest and what it saw during
// the current input.
type fuzzReqHarness struct {
	proxy *fuzzProxy
	one   sync.Mutex

	mu sync.Mutex
	// busy counts origin connections holding bytes of a message they have
	// not finished reading.
	busy int
	// forwarded counts requests the proxy was about to send upstream (its
	// UpstreamRequestFilter hook), for the current input.
	forwarded   int
	originBytes int
	reqs        []fuzzMsg
	partial     int // requests cut short by the proxy closing the connection
	problems    []string
}

func (h *fuzzReqHarness) problem(format string, args ...any) {
	h.mu.Lock()
	h.problems = append(h.problems, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// fuzzTap records what an origin connection reads since the start of the
// current message, and marks the connection busy as soon as a byte arrives.
type fuzzTap struct {
	h      *fuzzReqHarness
	c      net.Conn
	log    []byte
	isBusy bool
}

func (t *fuzzTap) Read(p []byte) (int, error) {
	n, err := t.c.Read(p)
	if n > 0 {
		t.log = append(t.log, p[:n]...)
		t.h.mu.Lock()
		t.h.originBytes += n
		if !t.isBusy {
			t.isBusy = true
			t.h.busy++
		}
		t.h.mu.Unlock()
	}
	return n, err
}

func (t *fuzzTap) idle() {
	t.h.mu.Lock()
	if t.isBusy {
		t.isBusy = false
		t.h.busy--
	}
	t.h.mu.Unlock()
}

const fuzzOriginBody = "ok"

// serveOrigin is the independent judge: net/http's parser on every byte the
// proxy sends, a fixed 200 for each request it accepts.
func (h *fuzzReqHarness) serveOrigin(c net.Conn) {
	tap := &fuzzTap{h: h, c: c}
	defer tap.idle()
	br := bufio.NewReaderSize(tap, 64<<10)
	for {
		// Keep only what belongs to the next message.
		tap.log = append(tap.log[:0], tap.log[len(tap.log)-br.Buffered():]...)
		if br.Buffered() == 0 {
			tap.idle()
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			if len(tap.log) > 0 {
				h.problem("origin: net/http cannot read what the proxy forwarded (%v): %s", err, fuzzQuote(tap.log))
			}
			return
		}
		head := fuzzHead(tap.log)
		hosts, problems := fuzzFraming(head)
		if head == nil {
			problems = append(problems, "no CRLFCRLF ends the head: "+fuzzQuote(tap.log))
		} else if hosts != 1 {
			problems = append(problems, fmt.Sprintf("%d Host fields", hosts))
		}
		for _, p := range problems {
			h.problem("origin: forwarded head %s: %s", fuzzQuote(head), p)
		}
		m := fuzzMsg{method: req.Method, target: req.RequestURI, host: req.Host}
		m.body, err = io.ReadAll(req.Body)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				// The proxy gave up mid-body and closed: the origin
				// cannot take the stump for a complete request.
				h.mu.Lock()
				h.partial++
				h.mu.Unlock()
			} else {
				h.problem("origin: net/http cannot read the forwarded body (%v) of %s", err, fuzzQuote(tap.log))
			}
			return
		}
		// Recorded before answering, so the proxy cannot have relayed the
		// answer before the harness knows of the request.
		h.mu.Lock()
		h.reqs = append(h.reqs, m)
		h.mu.Unlock()
		resp := "HTTP/1.1 200 OK\r\nX-Fuzz-Origin: 1\r\nContent-Length: 2\r\n\r\n"
		if req.Method != http.MethodHead {
			resp += fuzzOriginBody
		}
		if _, err := io.WriteString(c, resp); err != nil || req.Close {
			return
		}
	}
}

// newFuzzReqHarness starts the origin and the proxy, once per fuzz process.
func newFuzzReqHarness(tb testing.TB) *fuzzReqHarness {
	h := &fuzzReqHarness{}
	origin := fuzzListen(tb, h.serveOrigin)
	h.proxy = newFuzzProxy(tb, origin, 0, Hooks{
		UpstreamRequestFilter: func(*Session, *RequestHead) error {
			h.mu.Lock()
			h.forwarded++
			h.mu.Unlock()
			return nil
		},
	})
	return h
}

// fuzzReqSeen is what the origin saw of one input.
type fuzzReqSeen struct {
	forwarded, originBytes, partial int
	reqs                            []fuzzMsg
}

// check runs one input, reports every broken invariant, and returns what
// the origin saw.
func (h *fuzzReqHarness) check(t *testing.T, data []byte) fuzzReqSeen {
	h.one.Lock()
	defer h.one.Unlock()
	h.mu.Lock()
	h.forwarded, h.originBytes, h.reqs, h.partial, h.problems = 0, 0, nil, 0, nil
	h.mu.Unlock()

	ref := fuzzReference(data)
	out, timedOut := fuzzExchange(t, h.proxy.addr, data)

	// Requests the proxy sent are answered (or cut) before it closes the
	// client connection, but the origin's goroutines may lag a little.
	var (
		forwarded, originBytes, partial int
		reqs                            []fuzzMsg
		problems                        []string
		settled                         bool
	)
	// A request whose body fails may be dropped before a byte of it was
	// flushed upstream: then it is forwarded (by the hook's count) but
	// never seen. The grace lets a cut one show up before the next input.
	unseen := 0
	if ref.bodyFailed {
		unseen = 1
	}
	deadline := time.Now().Add(fuzzSettleTimeout)
	grace := time.Now().Add(20 * time.Millisecond)
	for {
		h.mu.Lock()
		seen := len(h.reqs) + h.partial
		settled = h.busy == 0 && (seen == h.forwarded || seen == h.forwarded-unseen && time.Now().After(grace))
		forwarded, originBytes, partial = h.forwarded, h.originBytes, h.partial
		reqs = append([]fuzzMsg(nil), h.reqs...)
		problems = append([]string(nil), h.problems...)
		h.mu.Unlock()
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}

	var bad []string
	if timedOut {
		bad = append(bad, fmt.Sprintf("the proxy neither answered nor closed within %v", fuzzClientTimeout))
	}
	if !settled {
		bad = append(bad, fmt.Sprintf("origin never settled: %d forwarded, %d complete and %d cut requests seen, or a connection is left mid-message: desync",
			forwarded, len(reqs), partial))
	}
	if ref.headRefused && (originBytes > 0 || forwarded > 0) {
		bad = append(bad, fmt.Sprintf("the codec refuses this head, yet the origin received %d bytes (%d requests forwarded)", originBytes, forwarded))
	}
	if len(reqs) > len(ref.reqs) {
		bad = append(bad, fmt.Sprintf("origin saw %d complete requests where the codec reads %d", len(reqs), len(ref.reqs)))
	}
	for i := range min(len(reqs), len(ref.reqs)) {
		got, want := reqs[i], ref.reqs[i]
		if got.method != want.method || got.target != want.target || got.host != want.host || !bytes.Equal(got.body, want.body) {
			bad = append(bad, fmt.Sprintf("request %d differs: origin read %v, codec read %v", i, got, want))
		}
	}
	if partial > 1 || partial == 1 && (!ref.bodyFailed || len(reqs) != len(ref.reqs)) {
		bad = append(bad, fmt.Sprintf("origin saw %d cut requests after %d complete ones; the codec reads %d complete ones, body failure=%v",
			partial, len(reqs), len(ref.reqs), ref.bodyFailed))
	}
	if n := bytes.Count(out, []byte("X-Fuzz-Origin:")); n > len(reqs) {
		bad = append(bad, fmt.Sprintf("client got %d origin responses for %d origin requests", n, len(reqs)))
	}
	bad = append(bad, problems...)
	if len(bad) > 0 {
		h.proxy.restart(t)
		t.Errorf("input %s\nclient got %s\n%s", fuzzQuote(data), fuzzQuote(out), strings.Join(bad, "\n"))
	}
	return fuzzReqSeen{forwarded: forwarded, originBytes: originBytes, partial: partial, reqs: reqs}
}

// fuzzRequestSeeds are valid requests, alone and pipelined, beside the
// smuggling corpus.
var fuzzRequestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"GET /a?b=c HTTP/1.1\r\nHost: fuzz.test\r\nConnection: close\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"GET http://fuzz.test/abs?q HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: fuzz.test\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nHost: fuzz.test\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: 10\r\n\r\nshort",
	"POST /c HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
	"POST /c HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	"POST /e HTTP/1.1\r\nHost: fuzz.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"GET /1 HTTP/1.1\r\nHost: fuzz.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: other.test\r\n\r\nDELETE /3 HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: fuzz.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"CONNECT fuzz.test:443 HTTP/1.1\r\nHost: fuzz.test:443\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: fuzz.test\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nTE: trailers\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: 4\r\nConnection: Content-Length\r\n\r\nbodyGET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n1\r\na\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-Ok: 1\r\n\r\n",
	"GET https://Fuzz.Test:8443/p HTTP/1.1\r\nHost: fuzz.test:8443\r\n\r\n",
	"POST /old HTTP/1.0\r\nHost: fuzz.test\r\nContent-Length: 2\r\n\r\nhi",
}

// FuzzPipelineRequest: HTTP/1 request framing through the whole proxy
// pipeline (raw bytes in: never a crash, never an ambiguous request
// forwarded).
func FuzzPipelineRequest(f *testing.F) {
	for _, tc := range h1test.Smuggling {
		f.Add([]byte(tc.Raw))
	}
	for _, s := range fuzzRequestSeeds {
		f.Add([]byte(s))
	}
	h := newFuzzReqHarness(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = h.check(t, data)
	})
}

// fuzzRespHarness is the origin of FuzzPipelineResponse. It answers
// /fuzz with the current input and /second with a fixed response, on any
// connection, so that what an input leaves behind in a pooled upstream
// connection shows up as a wrong answer to the second request.
type fuzzRespHarness struct {
	proxy *fuzzProxy
	one   sync.Mutex

	mu     sync.Mutex
	raw    []byte
	served int
	conns  map[net.Conn]struct{}
}

const fuzzSecondResponse = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"

func (h *fuzzRespHarness) serveOrigin(c net.Conn) {
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	_ = c.SetDeadline(time.Now().Add(2 * fuzzClientTimeout))
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if req.URL.Path != "/fuzz" {
			if _, err := io.WriteString(c, fuzzSecondResponse); err != nil {
				return
			}
			continue
		}
		h.mu.Lock()
		raw := h.raw
		h.served++
		h.mu.Unlock()
		if _, err := c.Write(raw); err != nil {
			return
		}
		if !fuzzKeepsAlive(req.Method, raw) {
			// Half-closing ends a close-delimited or cut body.
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, br)
			return
		}
		// net/http would reuse this connection: wait a little for the
		// second request (the harness closes every connection at the end
		// of the input anyway).
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
	}
}

// fuzzKeepsAlive reports whether net/http reads raw as one complete
// response (after interim ones) that leaves the connection open.
func fuzzKeepsAlive(method string, raw []byte) bool {
	br := bufio.NewReader(bytes.NewReader(raw))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return false
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			_, err := io.Copy(io.Discard, resp.Body)
			return err == nil && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols
		}
	}
}

// closeOrigins ends every origin connection, so that no input's upstream
// connection serves the next input.
func (h *fuzzRespHarness) closeOrigins() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		_ = c.Close()
	}
}

func newFuzzRespHarness(tb testing.TB) *fuzzRespHarness {
	h := &fuzzRespHarness{conns: map[net.Conn]struct{}{}}
	origin := fuzzListen(tb, h.serveOrigin)
	h.proxy = newFuzzProxy(tb, origin, 0, Hooks{
		ResponseFilter: func(_ *Session, resp *ResponseHead) error {
			resp.Header.Set("X-Fuzz-Relayed", "1")
			return nil
		},
	})
	return h
}

// fuzzNetHTTPResponse is net/http's reading of upstream bytes as the answer
// to method: the final status and body, ok when it accepts all of it.
func fuzzNetHTTPResponse(method string, raw []byte) (status int, body []byte, ok bool) {
	br := bufio.NewReader(bytes.NewReader(raw))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return 0, nil, false
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			body, err = io.ReadAll(resp.Body)
			return resp.StatusCode, body, err == nil
		}
		// An interim response has no body; the final one follows.
	}
}

// fuzzJudgeResponse checks what the client got (out) for method when the
// origin answered raw.
func fuzzJudgeResponse(method string, raw, out []byte) []string {
	if len(out) == 0 {
		return nil // a closed connection is an acceptable refusal
	}
	br := bufio.NewReader(bytes.NewReader(out))
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return []string{fmt.Sprintf("client cannot read the proxy's response: %v", err)}
	}
	_, bad := fuzzFraming(fuzzHead(out))
	body, berr := io.ReadAll(resp.Body)
	complete := berr == nil
	relayed := resp.Header.Get("X-Fuzz-Relayed") != ""
	if relayed && bodyAllowed(method, resp.StatusCode) && resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 {
		bad = append(bad, "close-delimited body to an HTTP/1.1 client: truncation cannot be told from the end")
	}
	if !relayed && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
		bad = append(bad, fmt.Sprintf("the proxy answered %d itself; only 502 or 504 fit an upstream failure", resp.StatusCode))
	}
	if complete {
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			bad = append(bad, fmt.Sprintf("bytes after the only response: %s", fuzzQuote(rest)))
		}
	}
	if relayed && complete {
		if status, refBody, ok := fuzzNetHTTPResponse(method, raw); ok {
			if status != resp.StatusCode {
				bad = append(bad, fmt.Sprintf("relayed status %d, net/http reads %d", resp.StatusCode, status))
			} else if !bytes.Equal(body, refBody) {
				bad = append(bad, fmt.Sprintf("relayed a complete body of %d bytes %s, net/http reads %d bytes %s",
					len(body), fuzzQuote(body), len(refBody), fuzzQuote(refBody)))
			}
		}
	}
	return bad
}

func (h *fuzzRespHarness) check(t *testing.T, head bool, raw []byte) {
	h.one.Lock()
	defer h.one.Unlock()
	defer h.closeOrigins()
	h.mu.Lock()
	h.raw, h.served = raw, 0
	h.mu.Unlock()
	method := http.MethodGet
	if head {
		method = http.MethodHead
	}
	out, timedOut := fuzzExchange(t, h.proxy.addr, []byte(method+" /fuzz HTTP/1.1\r\nHost: fuzz.test\r\n\r\n"))
	bad := fuzzJudgeResponse(method, raw, out)
	if timedOut {
		bad = append(bad, fmt.Sprintf("the proxy neither answered nor closed within %v", fuzzClientTimeout))
	}
	// The next request, likely on the upstream connection the first one
	// used, must get its own answer.
	second, timedOut := fuzzExchange(t, h.proxy.addr, []byte("GET /second HTTP/1.1\r\nHost: fuzz.test\r\n\r\n"))
	if p := fuzzJudgeSecond(second); p != "" {
		bad = append(bad, p)
	}
	if timedOut {
		bad = append(bad, fmt.Sprintf("second request: the proxy neither answered nor closed within %v", fuzzClientTimeout))
	}
	h.mu.Lock()
	served := h.served
	h.mu.Unlock()
	if served > 2 {
		// One attempt, and one retry at most.
		bad = append(bad, fmt.Sprintf("the origin was asked %d times for one request", served))
	}
	if len(bad) > 0 {
		h.proxy.restart(t)
		t.Errorf("%s answered with %s\nclient got %s\nthen %s\n%s", method, fuzzQuote(raw), fuzzQuote(out), fuzzQuote(second), strings.Join(bad, "\n"))
	}
}

// fuzzJudgeSecond checks the answer to the follow-up request: the origin's
// own, or the proxy's 502/504, or a closed connection.
func fuzzJudgeSecond(out []byte) string {
	if len(out) == 0 {
		return ""
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if err != nil {
		return fmt.Sprintf("second request: client cannot read the proxy's response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Fuzz-Relayed") == "" {
		if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout {
			return ""
		}
		return fmt.Sprintf("second request: the proxy answered %d itself", resp.StatusCode)
	}
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "second" {
		return fmt.Sprintf("second request got someone else's response: %d %s (body err %v): the first exchange left bytes in a pooled upstream connection",
			resp.StatusCode, fuzzQuote(body), err)
	}
	return ""
}

// fuzzResponseSeeds are upstream answers to a GET, well and badly framed.
var fuzzResponseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n6;e=\"q\"\r\n world\r\n0\r\nX-T: t\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	// A second response glued to the first one is in
	// testdata/fuzz/FuzzPipelineResponse/pooled-leftover-response.
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
	"HTTP/1.1 200 OK\r\n\r\nclose-delimited body",
	"HTTP/1.0 200 OK\r\n\r\nclose-delimited body",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw",
	"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
	"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
	"garbage\r\n\r\n",
	"",
}

// FuzzPipelineResponse: HTTP/1 response framing from upstreams.
func FuzzPipelineResponse(f *testing.F) {
	for _, s := range fuzzResponseSeeds {
		f.Add(false, []byte(s))
	}
	f.Add(true, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
	f.Add(true, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
	h := newFuzzRespHarness(f)
	f.Fuzz(func(t *testing.T, head bool, raw []byte) {
		h.check(t, head, raw)
	})
}

// The judges above must be able to fail: each row is a defect they must
// see, or a clean case they must pass.
func TestFuzzFraming(t *testing.T) {
	tests := []struct {
		name  string
		head  string
		hosts int
		bad   bool
	}{
		{"clean", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1, false},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 1, false},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 1, true},
		{"two CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 1, true},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 1, true},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 1, true},
		{"bare LF", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 1, true},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, true},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 2, false},
		{"no end", "GET / HTTP/1.1\r\nHost: a\r\n", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hosts, problems := fuzzFraming([]byte(tc.head))
			assert.Equal(t, tc.bad, len(problems) > 0, "%v", problems)
			if !tc.bad {
				assert.Equal(t, tc.hosts, hosts)
			}
		})
	}
}

func TestFuzzJudgeResponse(t *testing.T) {
	const up = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	tests := []struct {
		name, raw, out string
		bad            bool
	}{
		{"closed", up, "", false},
		{"relayed as is", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 5\r\n\r\nhello", false},
		{"relayed chunked", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false},
		{"proxy 502", up, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", false},
		{"cut body", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 5\r\n\r\nhel", false},
		{"other body", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 5\r\n\r\nhellx", true},
		{"other status", up, "HTTP/1.1 201 Created\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 5\r\n\r\nhello", true},
		{"CL and TE", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true},
		{"close-delimited", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\n\r\nhello", true},
		{"bytes after", up, "HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1", true},
		{"proxy's own 400", up, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", true},
		{"garbage", up, "garbage", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems := fuzzJudgeResponse(http.MethodGet, []byte(tc.raw), []byte(tc.out))
			assert.Equal(t, tc.bad, len(problems) > 0, "%v", problems)
		})
	}
	assert.Empty(t, fuzzJudgeSecond([]byte("HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 6\r\n\r\nsecond")))
	assert.Empty(t, fuzzJudgeSecond([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")))
	assert.NotEmpty(t, fuzzJudgeSecond([]byte("HTTP/1.1 200 OK\r\nX-Fuzz-Relayed: 1\r\nContent-Length: 4\r\n\r\nevil")))
}

// TestFuzzRequestHarness shows the request harness is not vacuous: it sees
// every forwarded request, and nothing of a refused one.
func TestFuzzRequestHarness(t *testing.T) {
	h := newFuzzReqHarness(t)
	seen := h.check(t, []byte("POST /a HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"GET /b?c HTTP/1.1\r\nHost: fuzz.test\r\n\r\n"))
	assert.Equal(t, 2, seen.forwarded)
	assert.Zero(t, seen.partial)
	require.Len(t, seen.reqs, 2)
	assert.Equal(t, fuzzMsg{method: "POST", target: "/a", host: "fuzz.test", body: []byte("abc")}, seen.reqs[0])
	assert.Equal(t, fuzzMsg{method: "GET", target: "/b?c", host: "fuzz.test", body: []byte{}}, seen.reqs[1])

	seen = h.check(t, []byte(h1test.Smuggling[0].Raw))
	assert.Zero(t, seen.originBytes)

	seen = h.check(t, []byte("POST / HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: 10\r\n\r\nhello"))
	assert.Equal(t, 1, seen.forwarded)
	assert.Empty(t, seen.reqs)
}
