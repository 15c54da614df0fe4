package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// curlVerbose runs curl like curl() does and also returns its stderr (the
// -v trace).
func curlVerbose(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{"-sS", "--max-time", "30"}, args...)
	cmd := exec.CommandContext(ctx, "curl", full...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	require.NoError(t, err, "curl %s: %s", strings.Join(full, " "), errb.String())
	return string(out), errb.String()
}

func fileSha256(t *testing.T, path string) (string, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256Hex(b), len(b)
}

// TestH2InteropCurl drives curl --http2 through gantry on every backend:
// GET, POST bodies of 1 KiB and 1 MiB, HEAD, a 4 MiB response, a POST with
// Expect: 100-continue and six transfers multiplexed on one connection.
// Each transfer must have been HTTP/2 downstream, and the bytes must
// arrive whole (sha256) both ways; /h1/ paths take the HTTP/1.1 upstream.
func TestH2InteropCurl(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startInteropOrigin(t, ca)
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			env := startH2Env(t, backend, ca, origin, h2EnvExtra{})
			work := t.TempDir()
			small := filepath.Join(work, "1k")
			large := filepath.Join(work, "1m")
			require.NoError(t, writeFile(small, randomBytes(1, 1<<10)))
			require.NoError(t, writeFile(large, randomBytes(2, 1<<20)))
			base := []string{"--http2", "--cacert", env.caFile}

			for _, up := range upstreamLegs {
				t.Run(up.name, func(t *testing.T) { curlOneLeg(t, env, work, up) })
			}
			t.Run("multiplexed", func(t *testing.T) {
				// --parallel waits for the first connection and puts the
				// other transfers on it as streams.
				args := append(base, "--parallel", "--parallel-max", "6",
					"-w", "%{http_code} %{http_version} %{local_port} %{num_connects} %{size_download}\n")
				const n = 6
				for i := range n {
					path := "/big"
					if i%2 == 1 {
						path = "/h1/big"
					}
					args = append(args, "-o", filepath.Join(work, "par"+strconv.Itoa(i)), env.url(path+"?i="+strconv.Itoa(i)))
				}
				lines := strings.Split(strings.TrimSpace(curl(t, args...)), "\n")
				require.Len(t, lines, n)
				ports := map[string]bool{}
				connects := 0
				for _, l := range lines {
					f := strings.Fields(l)
					require.Len(t, f, 5, l)
					assert.Equal(t, []string{"200", "2", strconv.Itoa(bigSize)}, []string{f[0], f[1], f[4]}, l)
					ports[f[2]] = true
					c, err := strconv.Atoi(f[3])
					require.NoError(t, err)
					connects += c
				}
				assert.Len(t, ports, 1, "every transfer on one connection: %q", lines)
				assert.Equal(t, 1, connects, "one connection opened: %q", lines)
				for i := range n {
					sum, _ := fileSha256(t, filepath.Join(work, "par"+strconv.Itoa(i)))
					assert.Equal(t, sha256Hex(bigBody()), sum, "transfer %d", i)
				}
			})
		})
	}
}

// upstreamLeg is one way from the proxy to the origin: the path prefix that
// selects it and the protocol the origin then sees.
type upstreamLeg struct{ name, prefix, proto string }

var upstreamLegs = []upstreamLeg{{"to-h2", "", "HTTP/2.0"}, {"to-h1", "/h1", "HTTP/1.1"}}

// curlOneLeg is TestH2InteropCurl's single transfers over one upstream leg.
func curlOneLeg(t *testing.T, env *h2Env, work string, up upstreamLeg) {
	small := filepath.Join(work, "1k")
	large := filepath.Join(work, "1m")
	base := []string{"--http2", "--cacert", env.caFile}
	const w = "%{http_code} %{http_version} %header{x-origin-proto} %header{x-body-sha256}"
	t.Run("GET", func(t *testing.T) {
		out := filepath.Join(work, "get")
		got := curl(t, append(base, "-o", out, "-w", w, env.url(up.prefix+"/echo"))...)
		assert.Equal(t, "200 2 "+up.proto+" "+sha256Hex(nil), got)
		_, n := fileSha256(t, out)
		assert.Zero(t, n)
	})
	for _, body := range []string{small, large} {
		t.Run("POST-"+filepath.Base(body), func(t *testing.T) {
			out := filepath.Join(work, "post")
			got := curl(t, append(base, "--data-binary", "@"+body, "-o", out, "-w", w, env.url(up.prefix+"/echo"))...)
			want, _ := fileSha256(t, body)
			assert.Equal(t, "200 2 "+up.proto+" "+want, got, "the origin got the body whole")
			echoed, _ := fileSha256(t, out)
			assert.Equal(t, want, echoed, "the client got it back whole")
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		got := curl(t, append(base, "-I", "-o", "/dev/null", "-w", "%{http_code} %{http_version} %header{content-length} %{size_download}", env.url(up.prefix+"/big"))...)
		assert.Equal(t, fmt.Sprintf("200 2 %d 0", bigSize), got)
	})
	t.Run("large", func(t *testing.T) {
		out := filepath.Join(work, "big")
		got := curl(t, append(base, "-o", out, "-w", "%{http_code} %{http_version} %{size_download}", env.url(up.prefix+"/big"))...)
		assert.Equal(t, fmt.Sprintf("200 2 %d", bigSize), got)
		sum, _ := fileSha256(t, out)
		assert.Equal(t, sha256Hex(bigBody()), sum)
	})
	t.Run("expect-100", func(t *testing.T) {
		// curl holds the body back until a 100 arrives (or
		// 30 s pass): the interim response must come through.
		out := filepath.Join(work, "expect")
		got, trace := curlVerbose(t, append(base, "-v", "--expect100-timeout", "30", "-H", "Expect: 100-continue",
			"--data-binary", "@"+large, "-o", out, "-w", w, env.url(up.prefix+"/echo"))...)
		want, _ := fileSha256(t, large)
		assert.Equal(t, "200 2 "+up.proto+" "+want, got)
		assert.Contains(t, trace, "< HTTP/2 100", "the interim response reached curl")
		echoed, _ := fileSha256(t, out)
		assert.Equal(t, want, echoed)
	})
}

// nghttp runs nghttp with args and returns its output (-v: the frames).
func nghttp(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nghttp", append([]string{"-t", "30"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "nghttp %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

var (
	nghttpStatus = regexp.MustCompile(`recv \(stream_id=(\d+)\) :status: (\d+)`)
	nghttpData   = regexp.MustCompile(`recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, stream_id=(\d+)>`)
	nghttpGoaway = regexp.MustCompile(`recv GOAWAY frame[^\n]*\n[^\n]*error_code=(\w+)`)
)

// assertCleanNghttp checks nghttp's trace: no stream reset and no GOAWAY
// with an error from the proxy.
func assertCleanNghttp(t *testing.T, trace string) {
	t.Helper()
	assert.NotContains(t, trace, "recv RST_STREAM", "no stream was reset")
	for _, m := range nghttpGoaway.FindAllStringSubmatch(trace, -1) {
		assert.Equal(t, "NO_ERROR", m[1], "GOAWAY from the proxy")
	}
}

// TestH2InteropNghttp drives nghttp (nghttp2's client) through gantry on
// every backend: ten concurrent streams of a 4 MiB GET, and POSTs of a
// 1 MiB file; every stream gets a 200 with its whole body, and the proxy
// neither resets a stream nor sends a GOAWAY with an error.
func TestH2InteropNghttp(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startInteropOrigin(t, ca)
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			env := startH2Env(t, backend, ca, origin, h2EnvExtra{})
			for _, up := range upstreamLegs {
				prefix := up.prefix
				t.Run(up.name+"/GET", func(t *testing.T) {
					trace := nghttp(t, "-nv", "-m", "10", env.url(prefix+"/big"))
					assertCleanNghttp(t, trace)
					statuses := nghttpStatus.FindAllStringSubmatch(trace, -1)
					require.Len(t, statuses, 10, trace)
					streams := map[string]bool{}
					for _, m := range statuses {
						assert.Equal(t, "200", m[2])
						streams[m[1]] = true
					}
					assert.Len(t, streams, 10, "ten streams")
					got := map[string]int{}
					for _, m := range nghttpData.FindAllStringSubmatch(trace, -1) {
						n, _ := strconv.Atoi(m[1])
						got[m[2]] += n
					}
					for id := range streams {
						assert.Equal(t, bigSize, got[id], "stream %s's DATA", id)
					}
				})
				t.Run(up.name+"/POST", func(t *testing.T) {
					file := filepath.Join(t.TempDir(), "upload")
					body := randomBytes(3, 1<<20)
					require.NoError(t, writeFile(file, body))
					trace := nghttp(t, "-nv", "-m", "3", "-d", file, env.url(prefix+"/echo"))
					assertCleanNghttp(t, trace)
					statuses := nghttpStatus.FindAllStringSubmatch(trace, -1)
					require.Len(t, statuses, 3, trace)
					for _, m := range statuses {
						assert.Equal(t, "200", m[2])
					}
					assert.Equal(t, 3, strings.Count(trace, "x-body-sha256: "+sha256Hex(body)), "the origin got each upload whole")
				})
			}
		})
	}
}
