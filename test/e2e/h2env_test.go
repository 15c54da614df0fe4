package e2e

import (
	"crypto/sha256"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// The HTTP/2 interop tests (h2interop_test.go, h2goclient_test.go,
// grpc_test.go) drive real clients through `gantry serve` to an origin that
// speaks HTTP/2 and HTTP/1.1, on every TLS backend compiled in. They look at
// what the clients and the origin see on the wire, never at the proxy's
// internals, so that they hold for any HTTP/2 server inside the proxy.

// bigSize is the size of the origin's large response body.
const bigSize = 4 << 20

// bigBody is a fixed pseudo-random body, the same in every run, that no
// compression or caching could shortcut.
var bigBody = sync.OnceValue(func() []byte {
	b := make([]byte, bigSize)
	_, _ = rand.NewChaCha8([32]byte{'g', 'a', 'n', 't', 'r', 'y'}).Read(b)
	return b
})

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// randomBytes returns n pseudo-random bytes from seed.
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// interopOrigin is the HTTPS origin behind the proxy. A path under /h1/ is
// served the same as without the prefix: the proxy routes it to an upstream
// group that offers only http/1.1, so each handler can be reached over
// either upstream protocol. Every response says which protocol the origin
// saw in X-Origin-Proto.
type interopOrigin struct {
	srv *httptest.Server
	// held receives the request target of each /hold request whose
	// client went away before the response ended.
	held chan string
	// sunk receives, after each read of a /sink?report request's body,
	// the bytes read so far.
	sunk chan int
}

func startInteropOrigin(t *testing.T, ca *certs.DevCA) *interopOrigin {
	t.Helper()
	o := &interopOrigin{held: make(chan string, 16), sunk: make(chan int, 64)}
	leaf, err := ca.IssueServer("localhost", "127.0.0.1")
	require.NoError(t, err)
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(o.serve))
	o.srv.EnableHTTP2 = true
	o.srv.TLS = &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}},
		MinVersion:   stdtls.VersionTLS12,
	}
	o.srv.StartTLS()
	t.Cleanup(o.srv.Close)
	return o
}

func (o *interopOrigin) addr() string { return o.srv.Listener.Addr().String() }

func (o *interopOrigin) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Origin-Proto", r.Proto)
	switch strings.TrimPrefix(r.URL.Path, "/h1") {
	case "/echo":
		// The body back, with its digest as the origin counted it.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Body-Sha256", sha256Hex(body))
		w.Header().Set("X-Body-Len", strconv.Itoa(len(body)))
		w.Header().Set("X-Te", strings.Join(r.Header.Values("Te"), ","))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	case "/big":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(bigSize))
		if r.Method != http.MethodHead {
			_, _ = w.Write(bigBody())
		}
	case "/trailers":
		// Declared trailers and one announced only by the prefix.
		w.Header().Set("Trailer", "X-Result, X-Count")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "body before trailers\n")
		w.Header().Set("X-Result", "done")
		w.Header().Set("X-Count", "1")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late value")
	case "/reqtrailer":
		// The request trailer the client sent after its body.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "sha256=%s trailer=%s", sha256Hex(body), r.Trailer.Get("X-Checksum"))
	case "/duplex":
		// Each chunk of the body is echoed as soon as it arrives, so a
		// client that waits for the echo before sending the next chunk
		// finishes only if both directions stream.
		rc := http.NewResponseController(w)
		_ = rc.EnableFullDuplex()
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				_ = rc.Flush()
			}
			if err != nil {
				return
			}
		}
	case "/sink":
		// The body is read as it comes; with ?report each read is
		// reported on o.sunk.
		report := r.URL.Query().Has("report")
		var body []byte
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if n > 0 && report {
				o.sunk <- len(body)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		fmt.Fprintf(w, "sha256=%s", sha256Hex(body))
	case "/hold":
		// A first line, then nothing until the client goes away.
		_, _ = io.WriteString(w, "first\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			o.held <- r.URL.RequestURI()
		case <-time.After(time.Minute):
		}
	default:
		http.NotFound(w, r)
	}
}

// h2Env is one `gantry serve` in front of an interopOrigin, with its
// listener and upstreams on one TLS backend.
type h2Env struct {
	backend string
	dir     string
	port    string
	caFile  string         // the listener's CA, for curl --cacert
	pool    *x509.CertPool // the same, for Go clients
	origin  *interopOrigin
	proc    *process
}

// h2EnvExtra are YAML lines added to an h2Env's config.
type h2EnvExtra struct {
	server    string // at the top: a server: section
	routes    string // routes tried before the catch-all
	upstreams string // more upstream groups
}

// startH2Env serves, on backend, routes /h1/ to the origin over HTTP/1.1
// and everything else over HTTP/2 (upstream ALPN h2 only), with extra
// added to the config.
func startH2Env(t *testing.T, backend string, ca *certs.DevCA, origin *interopOrigin, extra h2EnvExtra) *h2Env {
	t.Helper()
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(dir, "origin-ca.pem"), ca.CertPEM()))
	text := fmt.Sprintf(`%[5]s
listeners:
  - name: interop
    address: 127.0.0.1:0
    tls:
      backend: %[1]s
      certificates: [{cert: server.pem, key: server-key.pem}]
routes:
  - {path_prefix: /h1/, upstream: h1}
%[3]s  - upstream: h2
upstreams:
  h2:
    addresses: [%[2]q]
    tls: {backend: %[1]s, ca: origin-ca.pem, server_name: localhost, alpn: [h2]}
  h1:
    addresses: [%[2]q]
    tls: {backend: %[1]s, ca: origin-ca.pem, server_name: localhost, alpn: [http/1.1]}
%[4]slogging: {access_log: false}
`, backend, origin.addr(), extra.routes, extra.upstreams, extra.server)
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, writeFile(file, []byte(text)))
	p, port := serveListener(t, file, "interop")
	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	return &h2Env{backend: backend, dir: dir, port: port, caFile: files.CA, pool: pool, origin: origin, proc: p}
}

func (e *h2Env) url(path string) string { return "https://localhost:" + e.port + path }

// waitHeld waits for the origin to see the /hold request with target end
// before its response did (others are skipped), failing the test if it
// does not within a minute.
func (o *interopOrigin) waitHeld(t *testing.T, target string) {
	t.Helper()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for {
		select {
		case got := <-o.held:
			if got == target {
				return
			}
		case <-timer.C:
			t.Fatalf("the origin never saw %s end", target)
		}
	}
}

// waitSunk waits until the origin has read n bytes of the /sink body, for
// at most a minute.
func (o *interopOrigin) waitSunk(n int) error {
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for {
		select {
		case got := <-o.sunk:
			if got >= n {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("the origin did not get %d bytes of the body", n)
		}
	}
}
