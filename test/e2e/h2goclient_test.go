package e2e

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// goH2Client is Go's HTTP client of one h2Env, speaking only HTTP/2, that
// counts the connections it opens.
type goH2Client struct {
	*http.Client
	dials atomic.Int32
}

func newGoH2Client(t *testing.T, env *h2Env) *goH2Client {
	t.Helper()
	c := &goH2Client{}
	var d net.Dialer
	tr := &http.Transport{
		TLSClientConfig:   &stdtls.Config{RootCAs: env.pool, ServerName: "localhost", MinVersion: stdtls.VersionTLS12},
		ForceAttemptHTTP2: true,
		Protocols:         new(http.Protocols),
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	tr.Protocols.SetHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	c.Client = &http.Client{Transport: tr, Timeout: time.Minute}
	return c
}

// do sends req and returns the response with its body read whole.
func (c *goH2Client) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 2, resp.ProtoMajor)
	return resp, body
}

// TestH2InteropGoClient drives Go's HTTP/2 client (net/http, HTTP/2 only)
// through gantry on every backend, over both upstream legs: 50 concurrent
// requests on one connection, response trailers reaching the client,
// request trailers reaching the origin (HTTP/1.1 leg), a request body
// streamed in chunks the origin reads as they come, full duplex (HTTP/2
// leg: each chunk echoed before the next is sent), and a request cancelled
// mid-response (RST_STREAM from the client), seen by the origin (HTTP/2
// leg), with the next request on the same connection still served.
func TestH2InteropGoClient(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startInteropOrigin(t, ca)
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			env := startH2Env(t, backend, ca, origin, h2EnvExtra{})
			for _, up := range upstreamLegs {
				t.Run(up.name, func(t *testing.T) { goClientOneLeg(t, env, up) })
			}
		})
	}
}

func goClientOneLeg(t *testing.T, env *h2Env, up upstreamLeg) {
	t.Run("concurrent", func(t *testing.T) {
		c := newGoH2Client(t, env)
		// One request first, so the other 49 find the connection open and
		// its SETTINGS read.
		resp, _ := c.do(t, newRequest(t, http.MethodGet, env.url(up.prefix+"/echo"), nil))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		const n = 49
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				payload := fmt.Sprintf("request %d of %d", i, n)
				resp, err := c.Post(env.url(up.prefix+"/echo"), "text/plain", strings.NewReader(payload))
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				switch {
				case err != nil:
					errs <- err
				case resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || string(body) != payload || resp.Header.Get("X-Origin-Proto") != up.proto:
					errs <- fmt.Errorf("request %d: %s %s %q origin %s", i, resp.Proto, resp.Status, body, resp.Header.Get("X-Origin-Proto"))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
		assert.Equal(t, int32(1), c.dials.Load(), "all 50 requests on one connection")
	})

	t.Run("response-trailers", func(t *testing.T) {
		c := newGoH2Client(t, env)
		resp, body := c.do(t, newRequest(t, http.MethodGet, env.url(up.prefix+"/trailers"), nil))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "body before trailers\n", string(body))
		assert.Equal(t, "done", resp.Trailer.Get("X-Result"))
		assert.Equal(t, "1", resp.Trailer.Get("X-Count"))
		assert.Equal(t, "late value", resp.Trailer.Get("X-Late"), "a trailer not declared in the head")
	})

	if up.proto == "HTTP/1.1" {
		// Over an HTTP/2 upstream the proxy drops request trailers
		// (proxy/upstream/h2client.go: x/net's transport sends the
		// request's Trailer map, which is not known when the request
		// starts): a known gap, tested here where it works.
		t.Run("request-trailers", func(t *testing.T) {
			c := newGoH2Client(t, env)
			payload := randomBytes(4, 100<<10)
			req := newRequest(t, http.MethodPost, env.url(up.prefix+"/reqtrailer"), nil)
			req.Trailer = http.Header{"X-Checksum": nil}
			// The trailer's value is known only once the body is sent.
			req.Body = io.NopCloser(&trailerSetter{r: bytes.NewReader(payload), set: func() {
				req.Trailer.Set("X-Checksum", sha256Hex(payload))
			}})
			req.ContentLength = -1
			resp, body := c.do(t, req)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			want := sha256Hex(payload)
			assert.Equal(t, "sha256="+want+" trailer="+want, string(body), "the origin got the body and its trailer")
		})
	}

	t.Run("streamed-body", func(t *testing.T) {
		// The body goes through a pipe in chunks, without a length. On
		// the HTTP/2 leg each is written only once the origin has read
		// the ones before: the proxy must pass the body on as it comes.
		// The HTTP/1.1 leg holds up to 8 KiB of body before the first
		// write upstream (so that a request refused inside a small body
		// never reaches the origin at all: TestSmugglingCorpus), so
		// there the chunks are only written one by one: a known gap.
		lockstep := up.proto == "HTTP/2.0"
		c := newGoH2Client(t, env)
		pr, pw := io.Pipe()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		target := up.prefix + "/sink"
		if lockstep {
			target += "?report"
		}
		req := newRequest(t, http.MethodPost, env.url(target), pr).WithContext(ctx)
		var sent []byte
		done := make(chan error, 1)
		go func() {
			defer pw.Close()
			for i := range 10 {
				chunk := randomBytes(byte(10+i), 3000+i*1000)
				if _, err := pw.Write(chunk); err != nil {
					done <- err
					return
				}
				sent = append(sent, chunk...)
				if !lockstep {
					continue
				}
				if err := env.origin.waitSunk(len(sent)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		resp, body := c.do(t, req)
		require.NoError(t, <-done)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "sha256="+sha256Hex(sent), string(body))
	})

	if up.proto == "HTTP/2.0" {
		// Full duplex: the proxy writes the whole request body to an
		// HTTP/1.1 upstream before reading its response, so only the
		// HTTP/2 leg can echo a chunk before the next is sent.
		t.Run("full-duplex", func(t *testing.T) {
			c := newGoH2Client(t, env)
			pr, pw := io.Pipe()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			req := newRequest(t, http.MethodPost, env.url(up.prefix+"/duplex"), pr).WithContext(ctx)
			first := []byte("chunk 0;")
			go func() { _, _ = pw.Write(first) }()
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			for i := range 10 {
				chunk := []byte(fmt.Sprintf("chunk %d;", i))
				if i > 0 {
					_, err := pw.Write(chunk)
					require.NoError(t, err)
				}
				got := make([]byte, len(chunk))
				_, err := io.ReadFull(resp.Body, got)
				require.NoError(t, err, "echo of chunk %d", i)
				assert.Equal(t, string(chunk), string(got))
			}
			require.NoError(t, pw.Close())
			rest, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Empty(t, rest)
		})
	}

	t.Run("cancel", func(t *testing.T) {
		c := newGoH2Client(t, env)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		target := up.prefix + "/hold?backend=" + env.backend
		req := newRequest(t, http.MethodGet, env.url(target), nil).WithContext(ctx)
		resp, err := c.Do(req)
		require.NoError(t, err)
		line := make([]byte, len("first\n"))
		_, err = io.ReadFull(resp.Body, line)
		require.NoError(t, err)
		require.Equal(t, "first\n", string(line))
		cancel() // the client resets the stream
		_, err = io.ReadAll(resp.Body)
		assert.ErrorIs(t, err, context.Canceled)
		_ = resp.Body.Close()
		// The reset reaches either upstream: an HTTP/1.1 one by its
		// connection closing, at once.
		env.origin.waitHeld(t, target)

		resp2, body := c.do(t, newRequest(t, http.MethodPost, env.url(up.prefix+"/echo"), strings.NewReader("after the reset")))
		assert.Equal(t, http.StatusOK, resp2.StatusCode)
		assert.Equal(t, "after the reset", string(body))
		assert.Equal(t, int32(1), c.dials.Load(), "the next request on the same connection")
	})
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	return req
}

// trailerSetter reads r and calls set just before reporting io.EOF, the
// way a client computes a trailer over the body it sent.
type trailerSetter struct {
	r   io.Reader
	set func()
}

func (ts *trailerSetter) Read(p []byte) (int, error) {
	n, err := ts.r.Read(p)
	if err == io.EOF {
		ts.set()
	}
	return n, err
}
