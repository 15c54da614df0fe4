package bench

import (
	stdtls "crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LoadResult is what `gantry bench load` prints as one JSON line.
type LoadResult struct {
	Mode     string  `json:"mode"`
	OK       int64   `json:"ok"`
	Full     int64   `json:"full"`
	Resumed  int64   `json:"resumed"`
	Errors   int64   `json:"errors"`
	Secs     float64 `json:"secs"`
	Rate     float64 `json:"rate"`  // connections per second (handshake modes)
	Bytes    int64   `json:"bytes"` // bytes received in the window (bulk)
	MBps     float64 `json:"mbps"`  // 10^6 bytes per second (bulk)
	FirstErr string  `json:"first_error,omitempty"`
	// Group is the key exchange of the first successful handshake, to show
	// that every backend was measured on the same one.
	Group string `json:"group,omitempty"`
}

// loadMain is `gantry bench load`: the client side of the handshake, bulk
// and idle workloads, always on crypto/tls so it is the same for every
// server backend. Modes:
//
//	full    every connection a new TCP connection and a full handshake
//	resume  the same, with a per-worker session cache (tickets)
//	bulk    conns connections each reading a stream for the duration
//	idle    open -idle connections, report, hold them until stdin closes
func loadMain(args []string) error {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address host:port")
	mode := fs.String("mode", "full", "full | resume | bulk | idle")
	version := fs.String("tls", "1.3", "TLS version: 1.2 or 1.3")
	conns := fs.Int("conns", 16, "concurrent workers or connections")
	dur := fs.Duration("dur", 2*time.Second, "measurement window")
	warm := fs.Duration("warmup", 300*time.Millisecond, "warm-up before the window")
	idle := fs.Int("idle", 10000, "connections to hold in idle mode")
	clientBackend := fs.String("client-backend", "", "full/resume modes: handshake with this Gantry backend's client instead of crypto/tls (the client-side rows)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" {
		return errors.New("bench: load needs -addr")
	}
	if _, err := RaiseNofile(); err != nil {
		return err
	}
	// The load generator's own garbage collection is overhead on the load
	// CPU that says nothing about the server.
	debug.SetGCPercent(400)

	cfg := &stdtls.Config{
		// The chain is self-signed and not the point here; the server's
		// CertificateVerify signature is still checked by crypto/tls.
		InsecureSkipVerify: true, // #nosec G402 -- load generator against this run's throwaway local certificate
		ServerName:         "localhost",
		// X25519 for the key exchange (the only key share sent): every
		// backend has it, so no backend pays for a post-quantum hybrid
		// another lacks. P-256 is listed too because in TLS 1.2 the
		// supported groups also say which ECDSA certificate curves the
		// client accepts, and OpenSSL refuses a P-256 certificate otherwise.
		CurvePreferences: []stdtls.CurveID{stdtls.X25519, stdtls.CurveP256},
	}
	switch *version {
	case "1.2":
		cfg.MinVersion, cfg.MaxVersion = stdtls.VersionTLS12, stdtls.VersionTLS12
	case "1.3":
		cfg.MinVersion, cfg.MaxVersion = stdtls.VersionTLS13, stdtls.VersionTLS13
	default:
		return fmt.Errorf("bench: unknown TLS version %q", *version)
	}

	var res LoadResult
	var held []net.Conn
	var err error
	switch *mode {
	case "full", "resume":
		resume := *mode == "resume"
		workers := stdWorkers(*addr, cfg, resume)
		if *clientBackend != "" {
			if workers, err = backendWorkers(*addr, *clientBackend, *version, resume); err != nil {
				return err
			}
		}
		res = handshakeLoad(workers, *conns, *warm, *dur)
	case "bulk":
		res = bulkLoad(*addr, cfg, *conns, *warm, *dur)
	case "idle":
		res, held, err = idleLoad(*addr, cfg, *idle, *conns)
	default:
		return fmt.Errorf("bench: unknown load mode %q", *mode)
	}
	if err != nil {
		return err
	}
	res.Mode = *mode
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if *mode == "idle" {
		// Hold the connections until the parent has read the server's memory
		// and closes our stdin (or stops us).
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		eof := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
		select {
		case <-sig:
		case <-eof:
		}
	}
	for _, c := range held {
		_ = c.Close()
	}
	return nil
}

type counters struct {
	ok, full, resumed, errs atomic.Int64
	firstErr                atomic.Value
	group                   atomic.Value
}

func (c *counters) fail(err error) {
	c.errs.Add(1)
	c.firstErr.CompareAndSwap(nil, err.Error())
}

func (c *counters) result(secs float64) LoadResult {
	r := LoadResult{OK: c.ok.Load(), Full: c.full.Load(), Resumed: c.resumed.Load(), Errors: c.errs.Load(), Secs: secs}
	if s, ok := c.firstErr.Load().(string); ok {
		r.FirstErr = s
	}
	if g, ok := c.group.Load().(string); ok {
		r.Group = g
	}
	if secs > 0 {
		r.Rate = float64(r.OK) / secs
	}
	return r
}

// queryFunc makes one connection: connect, handshake, send a query, read
// the reply into buf, close.
type queryFunc func(buf []byte) (stdtls.ConnectionState, error)

// workerFactory makes one worker's query function, with its own session
// cache when resuming, and what releases it.
type workerFactory func() (queryFunc, func(), error)

// stdWorkers query with crypto/tls: the load side of the server-side rows,
// the same for every server backend.
func stdWorkers(addr string, base *stdtls.Config, resume bool) workerFactory {
	return func() (queryFunc, func(), error) {
		cfg := base.Clone()
		if resume {
			cfg.ClientSessionCache = stdtls.NewLRUClientSessionCache(4)
		}
		return func(buf []byte) (stdtls.ConnectionState, error) { return query(addr, cfg, buf) }, func() {}, nil
	}
}

// handshakeLoad runs conns workers, each making one connection at a time.
// Only connections completed inside the window count.
func handshakeLoad(newWorker workerFactory, conns int, warm, dur time.Duration) LoadResult {
	var phase atomic.Int32 // 0 warm-up, 1 window, 2 stop
	var c counters
	var wg sync.WaitGroup
	for range conns {
		q, release, err := newWorker()
		if err != nil {
			c.fail(err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			buf := make([]byte, replySize)
			for {
				p := phase.Load()
				if p == 2 {
					return
				}
				cs, err := q(buf)
				if p != 1 || phase.Load() != 1 {
					continue
				}
				if err != nil {
					c.fail(err)
					continue
				}
				c.ok.Add(1)
				if cs.CurveID != 0 { // a resumed TLS 1.2 handshake has no key exchange
					c.group.CompareAndSwap(nil, cs.CurveID.String())
				}
				if cs.DidResume {
					c.resumed.Add(1)
				} else {
					c.full.Add(1)
				}
			}
		}()
	}
	time.Sleep(warm)
	phase.Store(1)
	start := time.Now()
	window(dur, func() bool {
		if c.errs.Load() > 0 {
			return true
		}
		// A resuming worker's first connection is full: past conns
		// connections, some worker has had the chance to resume.
		return c.resumed.Load() > 0 || c.ok.Load() > int64(conns)
	})
	phase.Store(2)
	secs := time.Since(start).Seconds()
	wg.Wait()
	return c.result(secs)
}

// maxStretch bounds how long window waits beyond its duration.
const maxStretch = 30 * time.Second

// window sleeps for dur, then on until done reports that something was
// measured: on a starved CPU a short window could otherwise end empty. The
// rates stay true because they divide by the time that really passed.
func window(dur time.Duration, done func() bool) {
	time.Sleep(dur)
	for deadline := time.Now().Add(maxStretch); !done() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

func query(addr string, cfg *stdtls.Config, buf []byte) (stdtls.ConnectionState, error) {
	var none stdtls.ConnectionState
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return none, err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	tc := stdtls.Client(raw, cfg)
	if err := tc.Handshake(); err != nil {
		return none, err
	}
	if _, err := tc.Write([]byte{cmdQuery}); err != nil {
		return none, err
	}
	if _, err := io.ReadFull(tc, buf); err != nil {
		return none, err
	}
	return tc.ConnectionState(), nil
}

// bulkLoad opens conns connections that each read the server's stream;
// bytes read inside the window count.
func bulkLoad(addr string, base *stdtls.Config, conns int, warm, dur time.Duration) LoadResult {
	var phase atomic.Int32
	var bytes atomic.Int64
	var c counters
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				c.fail(err)
				return
			}
			defer raw.Close()
			tc := stdtls.Client(raw, base.Clone())
			_ = raw.SetDeadline(time.Now().Add(warm + dur + 10*time.Second))
			if _, err := tc.Write([]byte{cmdBulk}); err != nil {
				c.fail(err)
				return
			}
			c.ok.Add(1)
			buf := make([]byte, 64<<10)
			for phase.Load() != 2 {
				n, err := tc.Read(buf)
				if phase.Load() == 1 {
					bytes.Add(int64(n))
				}
				if err != nil {
					if phase.Load() != 2 {
						c.fail(err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(warm)
	phase.Store(1)
	start := time.Now()
	window(dur, func() bool { return bytes.Load() > 0 || c.errs.Load() >= int64(conns) })
	phase.Store(2)
	secs := time.Since(start).Seconds()
	wg.Wait()
	r := c.result(secs)
	r.Rate = 0
	r.Bytes = bytes.Load()
	r.MBps = float64(r.Bytes) / secs / 1e6
	return r
}

// idleLoad opens n TLS connections with `workers` handshakes in flight and
// keeps them open; the caller holds them until told to stop.
func idleLoad(addr string, cfg *stdtls.Config, n, workers int) (LoadResult, []net.Conn, error) {
	var c counters
	var mu sync.Mutex
	held := make([]net.Conn, 0, n)
	next := atomic.Int64{}
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					c.fail(err)
					continue
				}
				tc := stdtls.Client(raw, cfg)
				_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil {
					c.fail(err)
					_ = raw.Close()
					continue
				}
				_ = raw.SetDeadline(time.Time{})
				c.ok.Add(1)
				mu.Lock()
				held = append(held, tc)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r := c.result(time.Since(start).Seconds())
	if r.OK == 0 {
		return r, nil, fmt.Errorf("bench: no idle connection could be opened: %s", r.FirstErr)
	}
	return r, held, nil
}
