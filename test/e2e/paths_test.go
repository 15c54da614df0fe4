package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// seen is what a recording origin answers: its name, the request target as
// it arrived, and the headers by lower-case name as sent.
type seen struct {
	Origin  string              `json:"origin"`
	URI     string              `json:"uri"`
	Headers map[string][]string `json:"headers"`
}

func recordingOrigin(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := map[string][]string{}
		for k, v := range r.Header {
			h[strings.ToLower(k)] = append(h[strings.ToLower(k)], v...)
		}
		_ = json.NewEncoder(w).Encode(seen{Origin: name, URI: r.RequestURI, Headers: h})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// pathsConfig routes /admin/ to origin a and everything else to origin b,
// on a listener with the default path policy and on one that normalises
// every ambiguity it can (and refuses doubled slashes).
func pathsConfig(a, b string) string {
	return fmt.Sprintf(`server:
  forwarding:
    trusted_proxies: [127.0.0.2]
    owned_headers: [X-Auth-User]
listeners:
  - name: strict
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
  - name: lenient
    address: 127.0.0.1:0
    paths:
      encoded_slash: decode
      backslash: slash
      double_slash: reject
      invalid_escape: encode
      invalid_utf8: keep
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
routes:
  - {path_prefix: /admin/, upstream: a}
  - {upstream: b}
upstreams:
  a: {addresses: [%q]}
  b: {addresses: [%q]}
logging: {access_log: false}
`, a, b)
}

// outcome is where a request ended: the origin and the target it read, or
// the status Gantry refused it with ("" origin).
type outcome struct {
	origin, uri string
	status      int
}

func (o outcome) String() string {
	if o.origin == "" {
		return fmt.Sprintf("refused %d", o.status)
	}
	return o.origin + " " + o.uri
}

func at(origin, uri string) outcome { return outcome{origin: origin, uri: uri, status: 200} }

var refused = outcome{status: 400}

// pathCorpus lists request targets with where each must end on the strict
// and on the lenient listener.
var pathCorpus = []struct {
	target          string
	strict, lenient outcome
}{
	{"/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/x", at("b", "/public/x"), at("b", "/public/x")},
	{"/admin", at("b", "/admin"), at("b", "/admin")}, // a plain prefix: /admin/ does not match /admin
	{"/ADMIN/x", at("b", "/ADMIN/x"), at("b", "/ADMIN/x")},
	// Dot-segments, raw and encoded in every case and position.
	{"/public/../admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/./../admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/%2e%2e/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/%2E%2E/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/%2e%2E/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/.%2e/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/public/%2e./admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/%2e/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/%2E/admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/admin/%2e/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/admin/x/%2e%2e/y", at("a", "/admin/y"), at("a", "/admin/y")},
	{"/admin/./", at("a", "/admin/"), at("a", "/admin/")},
	{"/admin/..", at("b", "/"), at("b", "/")},
	{"/admin/%2e%2e", at("b", "/"), at("b", "/")},
	{"/../admin/x", refused, refused},
	{"/public/../../admin/x", refused, refused},
	{"/%2e%2e", refused, refused},
	// Encoded unreserved characters are the characters.
	{"/%61dmin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/%61%64%6d%69%6e/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/adm%69n/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"/%41dmin/x", at("b", "/Admin/x"), at("b", "/Admin/x")},
	{"/admin/%7e", at("a", "/admin/~"), at("a", "/admin/~")},
	{"/admin/a|b", at("a", "/admin/a%7Cb"), at("a", "/admin/a%7Cb")},
	// Encoded slashes.
	{"/admin%2Fx", refused, at("a", "/admin/x")},
	{"/public%2F..%2Fadmin/x", refused, at("a", "/admin/x")},
	{"/public%2f..%2fadmin/x", refused, at("a", "/admin/x")},
	{"/public/%2e%2e%2fadmin/x", refused, at("a", "/admin/x")},
	// Backslashes, raw and encoded.
	{`/public\..\admin/x`, refused, at("a", "/admin/x")},
	{"/public%5C..%5Cadmin/x", refused, at("a", "/admin/x")},
	{"/public%5c..%5cadmin/x", refused, at("a", "/admin/x")},
	// Doubled slashes.
	{"//admin/x", at("a", "/admin/x"), refused},
	{"/public//../admin/x", at("a", "/admin/x"), refused},
	{"/admin//x", at("a", "/admin/x"), refused},
	// NUL.
	{"/admin/x%00", refused, refused},
	{"/admin%00/x", refused, refused},
	// Broken escapes.
	{"/admin/%zz", refused, at("a", "/admin/%25zz")},
	{"/admin/x%", refused, at("a", "/admin/x%25")},
	{"/admin/x%4", refused, at("a", "/admin/x%254")},
	// Overlong and invalid UTF-8; valid UTF-8 passes with its hex upper-cased.
	{"/%C0%AFadmin/x", refused, at("b", "/%C0%AFadmin/x")},
	{"/public/%C0%AE%C0%AE/admin/x", refused, at("b", "/public/%C0%AE%C0%AE/admin/x")},
	{"/admin/%ff", refused, at("a", "/admin/%FF")},
	{"/admin/%E2%82%AC", at("a", "/admin/%E2%82%AC"), at("a", "/admin/%E2%82%AC")},
	{"/admin/%e2%82%ac", at("a", "/admin/%E2%82%AC"), at("a", "/admin/%E2%82%AC")},
	// The query is forwarded untouched.
	{"/admin/x?q=../..%2F&r=%2e", at("a", "/admin/x?q=../..%2F&r=%2e"), at("a", "/admin/x?q=../..%2F&r=%2e")},
	{"/public/..?x=/admin/", at("b", "/?x=/admin/"), at("b", "/?x=/admin/")},
	// Absolute-form targets are routed by their path.
	{"http://localhost/public/../admin/x", at("a", "/admin/x"), at("a", "/admin/x")},
	{"https://localhost/%61dmin/x", at("a", "/admin/x"), at("a", "/admin/x")},
}

type pathsProxy struct {
	addrs     map[string]string // listener name → address
	tlsConfig *tls.Config
	proc      *process
}

func startPathsProxy(t *testing.T) *pathsProxy {
	dir := t.TempDir()
	files, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	a, b := recordingOrigin(t, "a"), recordingOrigin(t, "b")
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, os.WriteFile(file, []byte(pathsConfig(a.Listener.Addr().String(), b.Listener.Addr().String())), 0o600))
	p := start(t, "serve", "-c", file)
	listenRe := regexp.MustCompile(`listener "([^"]+)" on https://(\S+) `)
	pp := &pathsProxy{addrs: map[string]string{}, proc: p}
	for len(pp.addrs) < 2 {
		m := listenRe.FindStringSubmatch(p.waitLine(t, "listener "))
		require.NotNil(t, m)
		pp.addrs[m[1]] = m[2]
	}
	caPEM, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	pp.tlsConfig = &tls.Config{RootCAs: roots, ServerName: "localhost"}
	return pp
}

// rawRequest sends one HTTP/1.1 request with target exactly as given and
// headers as spelled, from source (an address on the loopback interface).
func (pp *pathsProxy) rawRequest(t *testing.T, source, listener, method, target string, headers [][2]string) (int, seen) {
	t.Helper()
	raw := dialFrom(t, source, pp.addrs[listener])
	cfg := pp.tlsConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	c := tls.Client(raw, cfg)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", method, target)
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(c, b.String())
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "gantry's output:\n%s", pp.proc.out())
	defer resp.Body.Close()
	var s seen
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK && len(body) > 0 { // OPTIONS * is answered empty
		require.NoError(t, json.Unmarshal(body, &s))
	}
	return resp.StatusCode, s
}

// TestPathCorpus sends every corpus form through the gantry binary over
// HTTP/1.1 and HTTP/2, to the listener with the default policy and to the
// lenient one, and checks which origin got it and with what target.
func TestPathCorpus(t *testing.T) {
	require.GreaterOrEqual(t, len(pathCorpus), 40)
	pp := startPathsProxy(t)
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: pp.tlsConfig, ForceAttemptHTTP2: true}, Timeout: 30 * time.Second}
	defer h2.CloseIdleConnections()
	for _, listener := range []string{"strict", "lenient"} {
		for _, tt := range pathCorpus {
			want := tt.strict
			if listener == "lenient" {
				want = tt.lenient
			}
			t.Run(listener+"/HTTP1.1/"+tt.target, func(t *testing.T) {
				status, s := pp.rawRequest(t, "127.0.0.1", listener, "GET", tt.target, nil)
				got := outcome{origin: s.Origin, uri: s.URI, status: status}
				assert.Equal(t, want.String(), got.String())
			})
			if !strings.HasPrefix(tt.target, "/") || strings.HasPrefix(tt.target, "//") {
				continue // not a valid :path for Go's HTTP/2 client
			}
			t.Run(listener+"/HTTP2/"+tt.target, func(t *testing.T) {
				req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "https", Host: pp.addrs[listener], Opaque: tt.target}, Header: http.Header{}, Host: "localhost"}
				// A broken escape reaches the path policy as on HTTP/1.1
				// (Gantry's HTTP/2 server does not parse :path as a URL),
				// so both protocols end the same way.
				resp, err := h2.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, "HTTP/2.0", resp.Proto)
				got := outcome{status: resp.StatusCode}
				if resp.StatusCode == http.StatusOK {
					var s seen
					require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
					got.origin, got.uri = s.Origin, s.URI
				}
				assert.Equal(t, want.String(), got.String())
			})
		}
	}
	// OPTIONS * matches no path prefix but the catch-all; Go's origin
	// answers it itself.
	status, _ := pp.rawRequest(t, "127.0.0.1", "strict", "OPTIONS", "*", nil)
	assert.Equal(t, http.StatusOK, status)
}

// TestOwnedHeadersThroughBinary: a client's forwarding and identity
// headers, in any spelling, never reach the origin; a trusted proxy's
// forwarding chain is extended.
func TestOwnedHeadersThroughBinary(t *testing.T) {
	pp := startPathsProxy(t)
	spoof := [][2]string{
		{"X-Forwarded-For", "6.6.6.6"}, {"X_Forwarded_For", "7.7.7.7"}, {"X-Real-IP", "6.6.6.6"}, {"x_real_IP", "6.6.6.6"},
		{"Forwarded", "for=6.6.6.6"}, {"X-Forwarded-Proto", "http"}, {"X-Forwarded-Host", "evil.example"},
		{"Client-Cert", ":Zm9v:"}, {"X_SSL_Client_Verify", "SUCCESS"}, {"X-Forwarded-Client-Cert", "By=x"},
		{"X-Auth-User", "admin"}, {"x_auth_user", "admin"}, {"X-Kept", "yes"},
	}
	_, port, err := net.SplitHostPort(pp.addrs["strict"])
	require.NoError(t, err)
	for _, tc := range []struct {
		source, xff, realIP, proto, host string
	}{
		{"127.0.0.1", "127.0.0.1", "127.0.0.1", "https", "localhost"},
		{"127.0.0.2", "6.6.6.6, 127.0.0.2", "6.6.6.6", "http", "evil.example"},
	} {
		t.Run("from "+tc.source, func(t *testing.T) {
			status, s := pp.rawRequest(t, tc.source, "strict", "GET", "/public/", spoof)
			require.Equal(t, http.StatusOK, status)
			h := s.Headers
			assert.Equal(t, []string{tc.xff}, h["x-forwarded-for"])
			assert.Equal(t, []string{tc.realIP}, h["x-real-ip"])
			assert.Equal(t, []string{tc.proto}, h["x-forwarded-proto"])
			assert.Equal(t, []string{tc.host}, h["x-forwarded-host"])
			assert.Equal(t, []string{"yes"}, h["x-kept"])
			if tc.source == "127.0.0.1" {
				assert.Equal(t, []string{port}, h["x-forwarded-port"])
			}
			for _, gone := range []string{"x_forwarded_for", "x_real_ip", "client-cert", "x_ssl_client_verify", "x-forwarded-client-cert", "x-auth-user", "x_auth_user"} {
				assert.NotContains(t, h, gone)
			}
		})
	}
}
