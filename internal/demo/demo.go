package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultBigSize is what /big serves without ?size=: large enough to span
// many TLS records and HTTP/2 flow-control windows.
const DefaultBigSize = 1 << 20

// maxBigSize bounds ?size= so a demo origin cannot be asked to stream
// without end.
const maxBigSize = 64 << 20

// redacted lists headers whose values are credentials; the echo shows that
// they arrived, never what they hold.
var redacted = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
	"X-Api-Key":           true,
	"X-Auth-Token":        true,
}

// Handler serves the demo pages.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/big", big)
	mux.HandleFunc("/", echo)
	return mux
}

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var b strings.Builder
	b.WriteString("Hello from the Gantry demo origin.\n")
	if r.Header.Get("Via") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		b.WriteString("This response was proxied by Gantry.\n")
	} else {
		b.WriteString("This request did not come through a proxy (no Via or X-Forwarded-For header).\n")
	}
	fmt.Fprintf(&b, "\n%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
	fmt.Fprintf(&b, "Host: %s\n", r.Host)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range r.Header[name] {
			if redacted[name] {
				v = "[REDACTED]"
			}
			fmt.Fprintf(&b, "%s: %s\n", name, sanitize(v))
		}
	}
	b.WriteString("\nTry /big?size=N for a large response.\n")
	_, _ = io.WriteString(w, b.String())
}

// sanitize keeps the echo to printable text: header values from a client
// are attacker-controlled, and a terminal is not a safe place for escapes.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func big(w http.ResponseWriter, r *http.Request) {
	size := DefaultBigSize
	if s := r.URL.Query().Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxBigSize {
			http.Error(w, fmt.Sprintf("size must be 0..%d", maxBigSize), http.StatusBadRequest)
			return
		}
		size = n
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	if r.Method == http.MethodHead {
		return
	}
	// A repeating, position-dependent pattern: a client can check that no
	// byte was lost or reordered without a checksum header.
	var chunk [4096]byte
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	for size > 0 {
		n := min(size, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		size -= n
	}
}

// BigBody returns what /big?size=n serves, for tests that compare.
func BigBody(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte('a' + (i%4096)%26)
	}
	return out
}

// Origin is a running demo origin.
type Origin struct {
	srv *http.Server
	ln  net.Listener
	err chan error
}

// Start serves the demo on 127.0.0.1 at a free port.
func Start() (*Origin, error) { return StartOn("127.0.0.1:0") }

// StartOn serves the demo on addr (host:port).
func StartOn(addr string) (*Origin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo: listen: %w", err)
	}
	o := &Origin{
		ln:  ln,
		err: make(chan error, 1),
		srv: &http.Server{
			Handler:           Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       time.Minute,
			WriteTimeout:      5 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		},
	}
	go func() {
		err := o.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		o.err <- err
	}()
	return o, nil
}

// Addr is the origin's host:port.
func (o *Origin) Addr() string { return o.ln.Addr().String() }

// Close stops the origin, letting requests in flight finish within ctx.
func (o *Origin) Close(ctx context.Context) error {
	if err := o.srv.Shutdown(ctx); err != nil {
		_ = o.srv.Close()
		return fmt.Errorf("demo: shutdown: %w", err)
	}
	if err := <-o.err; err != nil {
		return fmt.Errorf("demo: serve: %w", err)
	}
	return nil
}
