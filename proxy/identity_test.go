package proxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/mtls"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// clientPKI is a client CA with an intermediate, so that the forwarded
// chain has something in it, and two clients: web (prod) and batch
// (staging).
type clientPKI struct {
	root, inter *x509.Certificate
	web, batch  stdtls.Certificate
}

var (
	clientPKIOnce sync.Once
	clientPKIVal  *clientPKI
)

func newClientPKI(t *testing.T) *clientPKI {
	t.Helper()
	clientPKIOnce.Do(func() {
		key := func() *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			return k
		}
		sign := func(tmpl, parent *x509.Certificate, pub any, by *ecdsa.PrivateKey) *x509.Certificate {
			der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, by)
			if err != nil {
				panic(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				panic(err)
			}
			return c
		}
		now := time.Now()
		ca := func(serial int64, cn string) *x509.Certificate {
			return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Example"}},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign}
		}
		rootKey, interKey := key(), key()
		p := &clientPKI{}
		p.root = sign(ca(1, "Clients Root"), ca(1, "Clients Root"), rootKey.Public(), rootKey)
		p.inter = sign(ca(2, "Clients Issuing"), p.root, interKey.Public(), rootKey)
		client := func(serial int64, cn, ou, uri string) stdtls.Certificate {
			u, _ := url.Parse(uri)
			k := key()
			leaf := sign(&x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, OrganizationalUnit: []string{ou}},
				DNSNames: []string{cn + ".example.com"}, URIs: []*url.URL{u},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
				p.inter, k.Public(), interKey)
			return stdtls.Certificate{Certificate: [][]byte{leaf.Raw, p.inter.Raw}, PrivateKey: k, Leaf: leaf}
		}
		p.web = client(0x1001, "web", "prod", "spiffe://example.org/ns/prod/web")
		p.batch = client(0x1002, "batch", "staging", "spiffe://example.org/ns/staging/batch")
		clientPKIVal = p
	})
	return clientPKIVal
}

// mtlsTLS is a listener that verifies client certificates against the
// client PKI.
func mtlsTLS(t *testing.T, backend string, mode gantrytls.ClientAuthMode, id mtls.Options) *ListenerTLS {
	l := serverTLS(t, backend)
	l.Config.ClientAuth = mode
	l.Config.ClientCAs = []*x509.Certificate{newClientPKI(t).root}
	l.ClientIdentity = id
	return l
}

// mtlsClient is client() presenting cert (none when nil).
func mtlsClient(t *testing.T, h2 bool, cert *stdtls.Certificate) *http.Client {
	c := client(t, h2)
	tr := c.Transport.(*http.Transport)
	if cert != nil {
		tr.TLSClientConfig.Certificates = []stdtls.Certificate{*cert}
	}
	tr.DisableKeepAlives = true
	c.Timeout = 10 * time.Second
	return c
}

// recordingOrigin keeps the headers of every request it gets.
type recordingOrigin struct {
	*origin
	mu   sync.Mutex
	seen []http.Header
}

func newRecordingOrigin(t *testing.T) *recordingOrigin {
	r := &recordingOrigin{}
	r.origin = newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Clone())
		r.mu.Unlock()
		_, _ = io.WriteString(w, "origin saw "+req.URL.Path)
	}), false, false)
	return r
}

func (r *recordingOrigin) last(t *testing.T) http.Header {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.seen, "the origin got no request")
	return r.seen[len(r.seen)-1]
}

// identityCounts is a Metrics that counts identity refusals.
type identityCounts struct {
	nopMetrics
	mu sync.Mutex
	n  map[string]int
}

func (m *identityCounts) ClientIdentityRefused(listener, level string, reason mtls.Reason) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[listener+"/"+level+"/"+string(reason)]++
}

func (m *identityCounts) get(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[key]
}

// syncBuffer is a log destination the proxy's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestListenerIdentityRule: a verified client that the listener's rules
// refuse is refused inside the handshake, with an alert (access_denied on
// BoringSSL, certificate_unknown on OpenSSL, bad_certificate on gostd);
// one they allow is served; on every backend, over both
// protocols.
func TestListenerIdentityRule(t *testing.T) {
	pki := newClientPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		o := newRecordingOrigin(t)
		m := &identityCounts{}
		var logs syncBuffer
		opts := simpleOptions(t, o.origin, mtlsTLS(t, backend, gantrytls.ClientAuthVerifyIfGiven,
			mtls.Options{Allow: mtls.Rules{URI: []string{"spiffe://example.org/ns/prod/*"}}}), nil)
		opts.Metrics = m
		opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		_, addr := startProxy(t, opts)

		for _, h2 := range []bool{false, true} {
			resp, body := get(t, mtlsClient(t, h2, &pki.web), "https://"+addr+"/x")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "origin saw /x", body)
		}
		served := o.requests.Load()
		assert.EqualValues(t, 2, served)

		for _, h2 := range []bool{false, true} {
			resp, err := mtlsClient(t, h2, &pki.batch).Get("https://" + addr + "/x")
			if err == nil {
				resp.Body.Close()
			}
			assert.Error(t, err, "a client the rules refuse gets no response (h2=%v)", h2)
			resp, err = mtlsClient(t, h2, nil).Get("https://" + addr + "/x")
			if err == nil {
				resp.Body.Close()
			}
			assert.Error(t, err, "a client without a certificate has no identity to allow (h2=%v)", h2)
		}
		// The refusal is an alert in the handshake, not a close after it,
		// read here from a bare TLS client (an HTTP/2 client may report
		// only that its connection failed). Each library has the last
		// word on the alert: OpenSSL takes it from an X.509 error code,
		// and no code maps to access_denied.
		want := map[string]string{
			"gostd":     "remote error: tls: bad certificate",
			"openssl":   "remote error: tls: unknown certificate",
			"boringssl": "remote error: tls: access denied",
		}[backend]
		tc := client(t, false).Transport.(*http.Transport).TLSClientConfig.Clone()
		tc.Certificates = []stdtls.Certificate{pki.batch}
		raw, err := stdtls.Dial("tcp", addr, tc)
		if err == nil {
			_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = raw.Read(make([]byte, 1)) // a TLS 1.3 client learns of it here
			raw.Close()
		}
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), want)
		}
		assert.Equal(t, served, o.requests.Load(), "nothing reached the origin")
		// The server counts a refusal after its alert is on the wire, so
		// the client may learn of it first.
		require.Eventually(t, func() bool {
			return m.get("test/listener/uri") == 3 && m.get("test/listener/no_certificate") == 2
		}, 10*time.Second, 5*time.Millisecond, "refusals counted: uri %d, no_certificate %d", m.get("test/listener/uri"), m.get("test/listener/no_certificate"))
		assert.Contains(t, logs.String(), "client identity refused")
		assert.Contains(t, logs.String(), "reason=uri")
		assert.Contains(t, logs.String(), "subject=", "the log names who was refused")
		assert.NotContains(t, logs.String(), "BEGIN CERTIFICATE")
	})
}

// TestRouteIdentityRule: a route's rules answer 403 to a client they
// refuse, and nothing is forwarded; other routes are not affected.
func TestRouteIdentityRule(t *testing.T) {
	pki := newClientPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		o := newRecordingOrigin(t)
		m := &identityCounts{}
		opts := simpleOptions(t, o.origin, mtlsTLS(t, backend, gantrytls.ClientAuthVerifyIfGiven, mtls.Options{}), nil)
		opts.Routes = []RouteOptions{
			{PathPrefix: "/admin/", Upstream: "app", ClientIdentity: mtls.Options{Allow: mtls.Rules{OU: []string{"prod"}, CN: []string{"web"}}}},
			{Upstream: "app"},
		}
		opts.Metrics = m
		_, addr := startProxy(t, opts)

		for _, h2 := range []bool{false, true} {
			before := o.requests.Load()
			resp, body := get(t, mtlsClient(t, h2, &pki.batch), "https://"+addr+"/admin/users")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Equal(t, "Forbidden\n", body, "the body never says why")
			resp, _ = get(t, mtlsClient(t, h2, nil), "https://"+addr+"/admin/users")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Equal(t, before, o.requests.Load(), "nothing forwarded")

			resp, body = get(t, mtlsClient(t, h2, &pki.batch), "https://"+addr+"/public")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "origin saw /public", body)
			resp, body = get(t, mtlsClient(t, h2, &pki.web), "https://"+addr+"/admin/users")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "origin saw /admin/users", body)
		}
		assert.Equal(t, 2, m.get("test/route/cn"), "cn is checked before ou")
		assert.Equal(t, 2, m.get("test/route/no_certificate"))
	})
}

// TestRouteRuleMatchesCanonicalPath: the route rule guards the path the
// upstream reads, whatever spelling the client used.
func TestRouteRuleMatchesCanonicalPath(t *testing.T) {
	o := newRecordingOrigin(t)
	opts := simpleOptions(t, o.origin, mtlsTLS(t, "gostd", gantrytls.ClientAuthVerifyIfGiven, mtls.Options{}), nil)
	opts.Routes = []RouteOptions{
		{PathPrefix: "/admin/", Upstream: "app", ClientIdentity: mtls.Options{Allow: mtls.Rules{CN: []string{"web"}}}},
		{Upstream: "app"},
	}
	_, addr := startProxy(t, opts)
	for _, path := range []string{"/public/../admin/x", "/%61dmin/x", "//admin/x"} {
		c := rawTLS(t, addr)
		_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		b, _ := io.ReadAll(c)
		assert.True(t, strings.HasPrefix(string(b), "HTTP/1.1 403 "), "%s: %.40q", path, b)
	}
	assert.Zero(t, o.requests.Load())
}

// spoofedIdentity are identity headers a client sends hoping the origin
// trusts them, in spellings a framework reads as the real ones.
var spoofedIdentity = [][2]string{
	{"Client-Cert", ":ZXZpbA==:"},
	{"client-cert-chain", ":ZXZpbA==:"},
	{"X-Forwarded-Client-Cert", "Hash=00;Subject=\"CN=admin\""},
	{"x_forwarded_client_cert", "Hash=00"},
	{"Client_Cert", ":ZXZpbA==:"},
	{"X-SSL-Client-Verify", "SUCCESS"},
	{"X-SSL-Client-S-DN", "CN=admin"},
	{"X-Client-Cert", "evil"},
}

// TestIdentityHeadersForwarded: spoofedIdentity identity headers never reach the
// origin, over HTTP/1.1 and HTTP/2 and on every backend, and the ones
// Gantry sets do, describing the certificate the client presented.
func TestIdentityHeadersForwarded(t *testing.T) {
	pki := newClientPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		o := newRecordingOrigin(t)
		opts := simpleOptions(t, o.origin, mtlsTLS(t, backend, gantrytls.ClientAuthVerifyIfGiven, mtls.Options{
			Forward: mtls.Forward{ClientCert: true, ClientCertChain: true, XFCC: true, XFCCCert: true, XFCCChain: true},
		}), nil)
		var seenID *mtls.Identity
		var mu sync.Mutex
		opts.Hooks.RequestFilter = func(s *Session) (bool, error) {
			mu.Lock()
			seenID = s.Downstream.ClientIdentity
			mu.Unlock()
			return false, nil
		}
		_, addr := startProxy(t, opts)
		leaf := pki.web.Leaf

		for _, h2 := range []bool{false, true} {
			for _, cert := range []*stdtls.Certificate{&pki.web, nil} {
				req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/id", nil)
				require.NoError(t, err)
				for _, kv := range spoofedIdentity {
					req.Header[kv[0]] = []string{kv[1]}
				}
				resp, err := mtlsClient(t, h2, cert).Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)

				got := o.last(t)
				for name := range got {
					n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
					if strings.HasPrefix(n, "x-ssl-client") || strings.HasPrefix(n, "x-client-cert") {
						t.Errorf("h2=%v: spoofedIdentity %s reached the origin", h2, name)
					}
				}
				mu.Lock()
				id := seenID
				mu.Unlock()
				if cert == nil {
					for _, n := range []string{"Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert", "Client_cert", "X_forwarded_client_cert"} {
						assert.Empty(t, got.Values(n), "h2=%v: without a certificate no %s reaches the origin", h2, n)
					}
					assert.Nil(t, id)
					continue
				}
				require.NotNil(t, id, "hooks see the identity")
				assert.Equal(t, []string{"spiffe://example.org/ns/prod/web"}, id.URI)
				assert.Equal(t, "1001", id.Serial)

				// RFC 9440: one Client-Cert, the leaf's DER as a byte sequence.
				require.Len(t, got.Values("Client-Cert"), 1, "h2=%v", h2)
				assert.Equal(t, leaf.Raw, decodeByteSeq(t, got.Get("Client-Cert")))
				chain := strings.Split(got.Get("Client-Cert-Chain"), ",")
				require.Len(t, got.Values("Client-Cert-Chain"), 1)
				require.Len(t, chain, 1, "the intermediate; not the leaf, not the root")
				assert.Equal(t, pki.inter.Raw, decodeByteSeq(t, chain[0]))
				assert.Empty(t, got.Values("Client_Cert"))

				// XFCC, parsed as Envoy documents it.
				require.Len(t, got.Values("X-Forwarded-Client-Cert"), 1, "h2=%v", h2)
				x := parseXFCC(t, got.Get("X-Forwarded-Client-Cert"))
				sum := sha256.Sum256(leaf.Raw)
				assert.Equal(t, []string{hex.EncodeToString(sum[:])}, x["Hash"])
				assert.Equal(t, []string{leaf.Subject.String()}, x["Subject"])
				assert.Equal(t, []string{"spiffe://example.org/ns/prod/web"}, x["URI"])
				assert.Equal(t, []string{"web.example.com"}, x["DNS"])
				require.Len(t, x["Cert"], 1)
				certs := decodePEMs(t, x["Cert"][0])
				require.Len(t, certs, 1)
				assert.Equal(t, leaf.Raw, certs[0])
				require.Len(t, x["Chain"], 1)
				assert.Equal(t, [][]byte{leaf.Raw, pki.inter.Raw}, decodePEMs(t, x["Chain"][0]))
			}
		}
	})
}

// TestRouteForwardAddsToListener: a route's forward settings add headers
// for its requests only.
func TestRouteForwardAddsToListener(t *testing.T) {
	pki := newClientPKI(t)
	o := newRecordingOrigin(t)
	opts := simpleOptions(t, o.origin, mtlsTLS(t, "gostd", gantrytls.ClientAuthRequireAndVerify, mtls.Options{Forward: mtls.Forward{XFCC: true}}), nil)
	opts.Routes = []RouteOptions{
		{PathPrefix: "/rfc/", Upstream: "app", ClientIdentity: mtls.Options{Forward: mtls.Forward{ClientCert: true}}},
		{Upstream: "app"},
	}
	_, addr := startProxy(t, opts)
	c := mtlsClient(t, false, &pki.web)
	get(t, c, "https://"+addr+"/rfc/x")
	h := o.last(t)
	assert.NotEmpty(t, h.Get("Client-Cert"))
	assert.NotEmpty(t, h.Get("X-Forwarded-Client-Cert"))
	assert.NotContains(t, h.Get("X-Forwarded-Client-Cert"), "Cert=", "xfcc_cert is off")
	get(t, c, "https://"+addr+"/other")
	h = o.last(t)
	assert.Empty(t, h.Get("Client-Cert"))
	assert.NotEmpty(t, h.Get("X-Forwarded-Client-Cert"))
}

// TestAccessLogIdentity: the access log names the client by subject,
// serial and key digest, and never carries the certificate.
func TestAccessLogIdentity(t *testing.T) {
	pki := newClientPKI(t)
	o := newRecordingOrigin(t)
	var access syncBuffer
	opts := simpleOptions(t, o.origin, mtlsTLS(t, "gostd", gantrytls.ClientAuthVerifyIfGiven, mtls.Options{Forward: mtls.Forward{ClientCert: true}}), nil)
	opts.AccessLog = AccessLogOptions{Writer: &access, Headers: []string{"Client-Cert"}}
	_, addr := startProxy(t, opts)
	get(t, mtlsClient(t, false, &pki.web), "https://"+addr+"/")
	sum := mtls.SPKIHash(pki.web.Leaf)
	require.Eventually(t, func() bool { return strings.Contains(access.String(), "client_subject") }, 5*time.Second, 10*time.Millisecond)
	line := access.String()
	assert.Contains(t, line, `"client_subject":"CN=web,OU=prod"`)
	assert.Contains(t, line, `"client_serial":"1001"`)
	assert.Contains(t, line, `"client_spki_sha256":"`+hex.EncodeToString(sum[:])+`"`)
	assert.Contains(t, line, `"client_issuer":"`+pki.web.Leaf.Issuer.String()+`"`)
	assert.Contains(t, line, `"client_uri":["spiffe://example.org/ns/prod/web"]`)
	assert.NotContains(t, line, `"client_email"`, "no empty SAN lists")
	assert.NotContains(t, line, base64.StdEncoding.EncodeToString(pki.web.Leaf.Raw)[:40])
}

// TestIdentityNeedsVerification: rules or forwarding on a listener that
// does not verify client certificates are refused, since anyone can write
// any name into a certificate they sign.
func TestIdentityNeedsVerification(t *testing.T) {
	for _, mode := range []gantrytls.ClientAuthMode{gantrytls.ClientAuthNone, gantrytls.ClientAuthRequest, gantrytls.ClientAuthRequire} {
		for _, id := range []mtls.Options{{Allow: mtls.Rules{CN: []string{"web"}}}, {Forward: mtls.Forward{ClientCert: true}}} {
			o := newOrigin(t, nil, false, false)
			l := mtlsTLS(t, "gostd", mode, id)
			if mode == gantrytls.ClientAuthNone {
				l.Config.ClientCAs = nil
			}
			_, err := New(simpleOptions(t, o, l, nil))
			assert.ErrorContains(t, err, "client_identity needs client_auth.mode", mode.String())
		}
	}
	o := newOrigin(t, nil, false, false)
	opts := simpleOptions(t, o, serverTLS(t, "gostd"), nil)
	opts.Routes[0].ClientIdentity.Allow.URI = []string{"spiffe://x/**/y"}
	_, err := New(opts)
	assert.ErrorContains(t, err, "client_identity.allow.uri[0]")
}

func decodeByteSeq(t *testing.T, v string) []byte {
	t.Helper()
	v = strings.TrimSpace(v)
	require.True(t, strings.HasPrefix(v, ":") && strings.HasSuffix(v, ":") && len(v) >= 2, "not a byte sequence: %.20q", v)
	b, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
	require.NoError(t, err)
	return b
}

// parseXFCC reads one XFCC element: key=value pairs split by ';', values
// bare or double-quoted with backslash escapes.
func parseXFCC(t *testing.T, v string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for len(v) > 0 {
		k, rest, ok := strings.Cut(v, "=")
		require.True(t, ok, "pair without '=': %.40q", v)
		var val strings.Builder
		if strings.HasPrefix(rest, `"`) {
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' {
					i++
				}
				val.WriteByte(rest[i])
			}
			require.Less(t, i, len(rest), "unterminated quote")
			rest = rest[i+1:]
		} else {
			end := strings.IndexAny(rest, ";,")
			if end < 0 {
				end = len(rest)
			}
			val.WriteString(rest[:end])
			rest = rest[end:]
		}
		require.False(t, strings.HasPrefix(rest, ","), "one element expected")
		out[k] = append(out[k], val.String())
		v = strings.TrimPrefix(rest, ";")
	}
	return out
}

func decodePEMs(t *testing.T, escaped string) [][]byte {
	t.Helper()
	raw, err := url.PathUnescape(escaped)
	require.NoError(t, err)
	var out [][]byte
	rest := []byte(raw)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		out = append(out, b.Bytes)
	}
	return out
}
