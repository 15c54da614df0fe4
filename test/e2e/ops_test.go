package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// opsEnv is a config directory with development certificates, two
// origins answering "A" and "B", and fixed ports for the listener and
// metrics, so that the tests do not depend on what serve prints.
type opsEnv struct {
	dir, file, pidFile string
	addr, metrics      string
	roots              *x509.CertPool
	originA, originB   string
	track              func(pid int) // kills pid at test end
}

func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	// A short directory: the control socket's path must fit sun_path.
	dir, err := os.MkdirTemp("", "gops")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	origin := func(body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	return &opsEnv{
		dir: dir, file: filepath.Join(dir, "gantry.yaml"), pidFile: filepath.Join(dir, "gantry.pid"),
		addr: freeAddr(t), metrics: freeAddr(t), roots: roots,
		originA: origin("A"), originB: origin("B"),
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// config is a serving config routing everything to upstream (a or b).
func (e *opsEnv) config(upstream string) string {
	return fmt.Sprintf(`server:
  pid_file: gantry.pid
  control_socket: ctl.sock
  timeouts: {shutdown_grace: 10s}
listeners:
  - name: main
    address: %s
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes: [{upstream: %s}]
upstreams:
  a: {addresses: [%q]}
  b: {addresses: [%q]}
logging: {access_log: false, format: text}
metrics: {address: %s}
`, e.addr, upstream, e.originA, e.originB, e.metrics)
}

func (e *opsEnv) write(t *testing.T, text string) {
	t.Helper()
	require.NoError(t, writeFile(e.file, []byte(text)))
}

// serve starts gantry on the config and waits until it is ready; every
// process the pid file ever names is killed at the end.
func (e *opsEnv) serve(t *testing.T) *process {
	t.Helper()
	p := start(t, "serve", "-c", e.file)
	var mu sync.Mutex
	pids := map[int]bool{}
	t.Cleanup(func() { // before start's own cleanup, which waits for stdout to close
		mu.Lock()
		defer mu.Unlock()
		for pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	e.track = func(pid int) {
		mu.Lock()
		pids[pid] = true
		mu.Unlock()
	}
	e.waitReady(t)
	e.track(e.pid(t))
	return p
}

func (e *opsEnv) pid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(e.pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

// waitReady polls /readyz until it answers 200 (bounded, not timed).
func (e *opsEnv) waitReady(t *testing.T) {
	t.Helper()
	for range 600 {
		if code, _ := e.scrape("/readyz"); code == http.StatusOK {
			if _, err := os.Stat(e.pidFile); err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("gantry never became ready")
}

func (e *opsEnv) scrape(path string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + e.metrics + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// get fetches / on a fresh connection.
func (e *opsEnv) get(t *testing.T) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots, ServerName: "localhost"}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + e.addr + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// loadStats counts a bounded load's outcomes.
type loadStats struct {
	ok, failed, refused atomic.Int64
	bodies              sync.Map // body → *atomic.Int64
	mu                  sync.Mutex
	firstErrs           []string
	finished            chan struct{}
}

func (s *loadStats) done() int64 { return s.ok.Load() + s.failed.Load() }

func (s *loadStats) fail(err string, refused bool) {
	s.failed.Add(1)
	if refused {
		s.refused.Add(1)
	}
	s.mu.Lock()
	if len(s.firstErrs) < 5 {
		s.firstErrs = append(s.firstErrs, err)
	}
	s.mu.Unlock()
}

func (s *loadStats) body(b string) int64 {
	v, _ := s.bodies.LoadOrStore(b, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

// runLoad sends GETs from 12 workers (4 opening a new TLS connection per
// request, 4 on HTTP/1.1 keep-alive, 4 on HTTP/2) until stop is closed
// and at least min requests were made; it never exceeds max, so it stops
// by itself.
func (e *opsEnv) runLoad(stop <-chan struct{}, min, max int64) *loadStats {
	s := &loadStats{finished: make(chan struct{})}
	var issued atomic.Int64
	// Each transport gets its own TLS config: an HTTP/2 one adds "h2" to
	// the config's ALPN list in place.
	tlsConf := func() *tls.Config { return &tls.Config{RootCAs: e.roots, ServerName: "localhost"} }
	noH2 := map[string]func(string, *tls.Conn) http.RoundTripper{}
	kinds := []func() *http.Transport{
		func() *http.Transport {
			return &http.Transport{TLSClientConfig: tlsConf(), DisableKeepAlives: true, TLSNextProto: noH2}
		},
		func() *http.Transport { return &http.Transport{TLSClientConfig: tlsConf(), TLSNextProto: noH2} },
		func() *http.Transport { return &http.Transport{TLSClientConfig: tlsConf(), ForceAttemptHTTP2: true} },
	}
	var wg sync.WaitGroup
	for w := range 12 {
		tr := kinds[w%3]()
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for {
				n := issued.Add(1)
				if n > max {
					return
				}
				if n > min {
					select {
					case <-stop:
						return
					default:
					}
				}
				resp, err := client.Get("https://" + e.addr + "/")
				if err != nil {
					s.fail(err.Error(), errors.Is(err, syscall.ECONNREFUSED))
					continue
				}
				b, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					s.fail(fmt.Sprintf("status %d, body %q, err %v", resp.StatusCode, b, err), false)
					continue
				}
				s.ok.Add(1)
				v, _ := s.bodies.LoadOrStore(string(b), new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(s.finished)
	}()
	return s
}

// waitDone waits until the load made n requests (or ended).
func (s *loadStats) waitDone(t *testing.T, n int64) {
	t.Helper()
	for s.done() < n {
		select {
		case <-s.finished:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *loadStats) report(t *testing.T, what string) {
	t.Helper()
	<-s.finished
	t.Logf("%s: %d requests ok, %d failed (%d refused connections); first errors: %v", what, s.ok.Load(), s.failed.Load(), s.refused.Load(), s.firstErrs)
	assert.Zero(t, s.failed.Load(), "failed requests")
	assert.Zero(t, s.refused.Load(), "refused connections")
	assert.GreaterOrEqual(t, s.ok.Load(), int64(3000))
}

// TestUpgradeUnderLoad: two upgrades in a row (gantry upgrade, then
// SIGUSR2 to the new process) and one refused (the new process rejects
// its config) while new TLS connections, HTTP/1.1 keep-alive and HTTP/2
// requests run: no request fails, no connection is refused, and the pid
// file follows the serving process.
func TestUpgradeUnderLoad(t *testing.T) {
	e := newOpsEnv(t)
	e.write(t, e.config("a"))
	first := e.serve(t)
	pid1 := e.pid(t)

	stop := make(chan struct{})
	load := e.runLoad(stop, 4500, 60000)
	load.waitDone(t, 800)

	code, stdout, stderr := runGantry(t, "upgrade", "-c", e.file)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Equal(t, "ok\n", stdout)
	pid2 := e.pid(t)
	e.track(pid2)
	require.NotEqual(t, pid1, pid2)

	// A new process whose config is invalid exits; the old one serves on.
	e.write(t, strings.Replace(e.config("a"), "routes:", "routez:", 1))
	code, _, stderr = runGantry(t, "upgrade", "-c", e.file)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "gantry.yaml:10: routez: unknown key")
	assert.Equal(t, pid2, e.pid(t))
	e.write(t, e.config("a"))

	load.waitDone(t, load.done()+1500)
	require.NoError(t, syscall.Kill(pid2, syscall.SIGUSR2))
	var pid3 int
	for range 600 {
		if pid3 = readPIDFile(e.pidFile); pid3 != pid2 && pid3 != 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NotEqual(t, pid2, pid3, "the pid file never named a new process")
	e.track(pid3)
	close(stop)
	load.report(t, "two upgrades")

	code, _ = e.scrape("/readyz")
	assert.Equal(t, http.StatusOK, code, "the last process is ready")
	code, body := e.scrape("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `gantry_certificate_expiry_timestamp_seconds{listener="main",name="localhost",role="served"`)
	assert.Equal(t, "A", e.get(t))
	assert.Contains(t, first.out(), "shutting down after upgrade")
}

func readPIDFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// TestReloadUnderLoad: under the same load, a good config moves the route
// to another upstream and a bad one is refused with its file, line and key
// while the running config goes on; no request fails.
func TestReloadUnderLoad(t *testing.T) {
	e := newOpsEnv(t)
	e.write(t, e.config("a"))
	e.serve(t)
	stop := make(chan struct{})
	load := e.runLoad(stop, 4500, 60000)
	load.waitDone(t, 800)

	e.write(t, e.config("b"))
	code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Equal(t, "ok\n", stdout)
	assert.Equal(t, "B", e.get(t), "a new connection sees the new route")

	e.write(t, strings.Replace(e.config("b"), "routes: [{upstream: b}]", "routes: [{upstream: c}]", 1))
	code, _, stderr = runGantry(t, "reload", "-c", e.file)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "gantry.yaml:10: routes[0].upstream: upstream \"c\" is not defined")
	assert.Equal(t, "B", e.get(t), "the refused config changed nothing")

	require.NoError(t, syscall.Kill(e.pid(t), syscall.SIGHUP)) // same config again, by signal
	load.waitDone(t, load.done()+1500)
	close(stop)
	load.report(t, "reloads")
	assert.Positive(t, load.body("A"))
	assert.Positive(t, load.body("B"))

	_, body := e.scrape("/metrics")
	assert.Contains(t, body, `gantry_reloads_total{result="ok"} 1`)
	assert.Contains(t, body, `gantry_reloads_total{result="error"} 2`)
}

// TestHealthDuringDrain: while a SIGTERM drain waits for a request in
// flight, /readyz says 503, /healthz and /metrics still answer, and the
// request completes before the process exits 0.
func TestHealthDuringDrain(t *testing.T) {
	e := newOpsEnv(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "slow")
	}))
	defer slow.Close()
	e.originA = slow.Listener.Addr().String()
	e.write(t, e.config("a"))
	p := e.serve(t)

	code, body := e.scrape("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	got := make(chan string, 1)
	go func() {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots, ServerName: "localhost"}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + e.addr + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got <- string(b)
	}()
	<-arrived
	require.NoError(t, syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM))
	for range 600 {
		if code, _ = e.scrape("/readyz"); code != http.StatusOK {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body = e.scrape("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "draining\n", body)
	code, _ = e.scrape("/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, body = e.scrape("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `gantry_open_connections{listener="main"} 1`)
	close(release)
	assert.Equal(t, "slow", <-got)
	assert.Equal(t, 0, p.wait(t))
	_, err := os.Stat(e.pidFile)
	assert.True(t, os.IsNotExist(err), "the pid file is removed on exit")
	_, err = os.Stat(filepath.Join(e.dir, "ctl.sock"))
	assert.True(t, os.IsNotExist(err), "the control socket is removed on exit")
}

// TestControlCommandsHelp: the new commands explain themselves, and one
// with no server to talk to says so and exits 1.
func TestControlCommandsHelp(t *testing.T) {
	for _, cmd := range []string{"reload", "upgrade"} {
		code, stdout, _ := runGantry(t, cmd, "--help")
		assert.Equal(t, 0, code)
		assert.Contains(t, stdout, "Usage: gantry "+cmd+" -c FILE | --socket PATH")
		assert.Contains(t, stdout, "server.control_socket")
	}
	e := newOpsEnv(t)
	e.write(t, e.config("a"))
	code, _, stderr := runGantry(t, "reload", "-c", e.file)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is gantry serving with server.control_socket set?")
}
