package e2e

import (
	"context"
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
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// The mTLS matrix: every backend compiled in × every client_auth mode ×
// the client certificates and requests a deployment meets, each cell
// asserted at the client (a response, or none at all) and at a recording
// origin (what, if anything, reached it, and which identity headers).
//
// Cell texts:
//
//	200 fwd         200; the origin got the request with exactly Gantry's
//	                Client-Cert and X-Forwarded-Client-Cert for the client's
//	                certificate and no other identity header
//	200             200; the origin got no identity header
//	200 stripped    as 200, for a client that sent forged identity headers
//	403             a 403 response; the origin got nothing
//	refused         no HTTP response at all (TLS handshake failed, or the
//	                connection closed before a response); the origin got
//	                nothing
//	config refused  not applicable: `gantry check` refuses the config this
//	                case needs under this mode (rules and CRLs need a mode
//	                that verifies), naming the key
//
// A cell with several probes (HTTP/1.1 and HTTP/2; the plain and the
// rule listener) shows one text when they agree, and each probe's when
// they do not.

var matrixModes = []string{"none", "request", "require", "verify-if-given", "require-and-verify"}

func verifyingMode(mode string) bool {
	return mode == "verify-if-given" || mode == "require-and-verify"
}

// matrixCase is one row: which certificate the client presents, where it
// sends its requests, and the expected cell per mode (in matrixModes
// order).
type matrixCase struct {
	name string
	// cert is a key of matrixEnv.clients; "" sends no certificate.
	cert string
	// listener is "main" (no listener rules), "rules" (listener rules) or
	// "both" (main, and rules where the mode has that listener).
	listener string
	// route sends the request to the route with its own identity rules.
	route bool
	// protos are the client's protocols, one probe each.
	protos []string
	spoof  bool
	// needs names the config a non-verifying mode cannot have, so that
	// the cell there is a `gantry check` of that config: "crl" or
	// "identity".
	needs string
	want  []string
}

var bothProtos = []string{"h1", "h2"}

var matrixCases = []matrixCase{
	{name: "valid client cert", cert: "valid", listener: "both", protos: bothProtos,
		want: []string{"200", "200", "200", "200 fwd", "200 fwd"}},
	{name: "no certificate", listener: "main", protos: bothProtos,
		want: []string{"200", "200", "refused", "200", "refused"}},
	{name: "unknown CA", cert: "unknown-ca", listener: "main", protos: bothProtos,
		want: []string{"200", "200", "200", "refused", "refused"}},
	{name: "expired", cert: "expired", listener: "main", protos: bothProtos,
		want: []string{"200", "200", "200", "refused", "refused"}},
	{name: "not yet valid", cert: "not-yet-valid", listener: "main", protos: bothProtos,
		want: []string{"200", "200", "200", "refused", "refused"}},
	{name: "revoked by CRL", cert: "revoked", listener: "main", protos: bothProtos, needs: "crl",
		want: []string{"config refused", "config refused", "config refused", "refused", "refused"}},
	{name: "URI SAN not allowed (listener)", cert: "wrong-uri", listener: "rules", protos: bothProtos, needs: "identity",
		want: []string{"config refused", "config refused", "config refused", "refused", "refused"}},
	{name: "SPKI pin not matched (listener)", cert: "wrong-pin", listener: "rules", protos: bothProtos, needs: "identity",
		want: []string{"config refused", "config refused", "config refused", "refused", "refused"}},
	// A route's rules see only certificates the listener verified: under
	// a mode that verifies nothing, nobody passes them.
	{name: "route rule, allowed cert", cert: "valid", listener: "main", route: true, protos: bothProtos,
		want: []string{"403", "403", "403", "200 fwd", "200 fwd"}},
	{name: "route rule, URI not allowed", cert: "wrong-uri", listener: "main", route: true, protos: bothProtos,
		want: []string{"403", "403", "403", "403", "403"}},
	{name: "route rule, no certificate", listener: "main", route: true, protos: bothProtos,
		want: []string{"403", "403", "refused", "403", "refused"}},
	{name: "spoofed identity headers, HTTP/1.1", cert: "valid", listener: "main", protos: []string{"h1"}, spoof: true,
		want: []string{"200 stripped", "200 stripped", "200 stripped", "200 fwd", "200 fwd"}},
	{name: "spoofed identity headers, HTTP/2", cert: "valid", listener: "main", protos: []string{"h2"}, spoof: true,
		want: []string{"200 stripped", "200 stripped", "200 stripped", "200 fwd", "200 fwd"}},
	{name: "spoofed identity headers, no cert", listener: "main", protos: bothProtos, spoof: true,
		want: []string{"200 stripped", "200 stripped", "refused", "200 stripped", "refused"}},
}

// TestMTLSMatrix runs the matrix through the gantry binary: one process
// per backend and mode, serving a plain listener, a listener with identity
// rules (verifying modes only) and a route with its own rules.
func TestMTLSMatrix(t *testing.T) {
	env := newMatrixEnv(t)
	var tables strings.Builder
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			got := map[string]map[string]string{}
			how := map[string]map[string]string{}
			for _, c := range matrixCases {
				got[c.name], how[c.name] = map[string]string{}, map[string]string{}
			}
			for _, mode := range matrixModes {
				t.Run(mode, func(t *testing.T) { env.runMode(t, backend, mode, got, how) })
			}
			table := formatMatrix("backend "+backend, got) + formatMatrix("how refused ("+backend+")", how)
			t.Log("\n" + table)
			tables.WriteString(table)
			for _, c := range matrixCases {
				for i, mode := range matrixModes {
					assert.Equal(t, c.want[i], got[c.name][mode], "%s: %s under mode %s", backend, c.name, mode)
				}
			}
			// The C libraries let the verifier choose the alert for a
			// revoked certificate (crypto/tls sends bad_certificate for
			// any refusal of its hook).
			if backend != "gostd" {
				assert.Equal(t, "alert revoked certificate", how["revoked by CRL"]["require-and-verify"], "%s: the alert a revoked client hears", backend)
			}
		})
	}
	// Nothing reached the origin but the requests answered 200 there,
	// under no other path either.
	assert.Equal(t, env.forwarded, env.origin.total(), "requests the origin got")
	if file := os.Getenv("GANTRY_MATRIX_OUT"); file != "" {
		require.NoError(t, writeFile(file, []byte(tables.String())))
	}
}

// matrixClient is a client certificate with its key, as the client
// presents it.
type matrixClient struct {
	tls  stdtls.Certificate
	leaf *x509.Certificate
}

type matrixEnv struct {
	dir     string
	roots   *x509.CertPool // the server certificate's CA
	clients map[string]*matrixClient
	pin     string // SPKI SHA-256 of the valid client's key
	origin  *matrixOrigin
	// forwarded counts the probes the origin answered, which should be all
	// it ever got.
	forwarded int
}

func newMatrixEnv(t *testing.T) *matrixEnv {
	t.Helper()
	e := &matrixEnv{dir: t.TempDir(), clients: map[string]*matrixClient{}, origin: startMatrixOrigin(t)}
	serverCA, err := certs.NewDevCA()
	require.NoError(t, err)
	server, err := serverCA.IssueServer("localhost", "127.0.0.1")
	require.NoError(t, err)
	e.writeIssued(t, server, "server.pem", "server-key.pem")
	e.roots = x509.NewCertPool()
	e.roots.AddCert(serverCA.Certificate())

	clientCA, err := certs.NewCA("Matrix Clients CA", false)
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(e.dir, "client-ca.pem"), clientCA.CertPEM()))
	otherCA, err := certs.NewCA("Matrix Stranger CA", false)
	require.NoError(t, err)

	prodWeb := mustURL(t, "spiffe://example.org/ns/prod/web")
	issued := func(ca *certs.DevCA, cn string) *matrixClient {
		i, err := ca.IssueClientWith(certs.ClientOptions{CommonName: cn, URIs: []*url.URL{prodWeb}})
		require.NoError(t, err)
		return newMatrixClient(t, i.Cert, i.Key)
	}
	e.clients["valid"] = issued(clientCA, "valid")
	e.clients["revoked"] = issued(clientCA, "revoked")
	e.clients["wrong-pin"] = issued(clientCA, "wrong-pin") // the right URI, another key
	e.clients["unknown-ca"] = issued(otherCA, "stranger")
	now := time.Now()
	e.clients["expired"] = issueAt(t, clientCA, "expired", prodWeb, nil, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	e.clients["not-yet-valid"] = issueAt(t, clientCA, "not-yet-valid", prodWeb, nil, now.Add(24*time.Hour), now.Add(48*time.Hour))
	// The valid client's key under a URI the rules do not allow: only the
	// URI rule can refuse it, not the pin.
	validKey, ok := e.clients["valid"].tls.PrivateKey.(*ecdsa.PrivateKey)
	require.True(t, ok)
	e.clients["wrong-uri"] = issueAt(t, clientCA, "wrong-uri", mustURL(t, "spiffe://example.org/ns/dev/web"), validKey, now.Add(-time.Hour), now.Add(24*time.Hour))

	sum := sha256.Sum256(e.clients["valid"].leaf.RawSubjectPublicKeyInfo)
	e.pin = hex.EncodeToString(sum[:])

	crl, err := clientCA.CRL([]*big.Int{e.clients["revoked"].leaf.SerialNumber}, now.Add(24*time.Hour))
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(e.dir, "clients.crl"), crl))
	return e
}

func (e *matrixEnv) writeIssued(t *testing.T, i *certs.Issued, certFile, keyFile string) {
	t.Helper()
	keyPEM, err := i.KeyPEM()
	require.NoError(t, err)
	require.NoError(t, writeFile(filepath.Join(e.dir, certFile), i.CertPEM()))
	require.NoError(t, writeFile(filepath.Join(e.dir, keyFile), keyPEM))
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func newMatrixClient(t *testing.T, leaf *x509.Certificate, key *ecdsa.PrivateKey) *matrixClient {
	t.Helper()
	return &matrixClient{tls: stdtls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, leaf: leaf}
}

// issueAt issues a client certificate from ca with a chosen validity
// period and key (a new one when key is nil), which DevCA's own issuing
// does not offer. It signs with the CA's key as DevCA.KeyPEM gives it.
func issueAt(t *testing.T, ca *certs.DevCA, cn string, uri *url.URL, key *ecdsa.PrivateKey, notBefore, notAfter time.Time) *matrixClient {
	t.Helper()
	caKeyPEM, err := ca.KeyPEM()
	require.NoError(t, err)
	block, _ := pem.Decode(caKeyPEM)
	require.NotNil(t, block)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	if key == nil {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: cn},
		URIs:                  []*url.URL{uri},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate(), &key.PublicKey, caKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return newMatrixClient(t, leaf, key)
}

// matrixConfig is the serving config of one backend and mode. With
// extra, the main listener gets more (a CRL or identity rules): the
// configs a non-verifying mode must refuse.
func (e *matrixEnv) matrixConfig(backend, mode, extra string) string {
	auth := fmt.Sprintf("{mode: %s, ca: client-ca.pem}", mode)
	if mode == "none" {
		auth = "{mode: none}"
	}
	identity := ""
	if verifyingMode(mode) {
		auth = fmt.Sprintf("{mode: %s, ca: client-ca.pem, crls: [clients.crl]}", mode)
		identity = "      client_identity:\n        forward: {client_cert: true, client_cert_chain: true, xfcc: true}\n"
	}
	switch extra {
	case "crl":
		auth = strings.TrimSuffix(auth, "}") + ", crls: [clients.crl]}"
	case "identity":
		identity = fmt.Sprintf("      client_identity:\n        allow: {uri: [\"spiffe://example.org/ns/prod/*\"], spki_sha256: [%q]}\n", e.pin)
	}
	listener := func(name, identity string) string {
		return fmt.Sprintf(`  - name: %s
    address: 127.0.0.1:0
    tls:
      backend: %s
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: %s
%s`, name, backend, auth, identity)
	}
	listeners := listener("main", identity)
	if verifyingMode(mode) {
		listeners += listener("rules", fmt.Sprintf(`      client_identity:
        allow: {uri: ["spiffe://example.org/ns/prod/*"], spki_sha256: [%q]}
        forward: {client_cert: true, client_cert_chain: true, xfcc: true}
`, e.pin))
	}
	return fmt.Sprintf(`listeners:
%sroutes:
  - path_prefix: /route/
    upstream: origin
    client_identity:
      allow: {uri: ["spiffe://example.org/ns/prod/web"]}
  - upstream: origin
upstreams:
  origin: {addresses: [%q]}
logging: {access_log: false}
`, listeners, e.origin.addr)
}

// runMode fills the mode's column of got (cell texts) and how (the way
// refused probes were refused, see refusalWay).
func (e *matrixEnv) runMode(t *testing.T, backend, mode string, got, how map[string]map[string]string) {
	file := filepath.Join(e.dir, fmt.Sprintf("gantry-%s-%s.yaml", backend, mode))
	require.NoError(t, writeFile(file, []byte(e.matrixConfig(backend, mode, ""))))
	p := start(t, "serve", "-c", file)
	addrs := waitListeners(t, p, map[bool]int{true: 2, false: 1}[verifyingMode(mode)])

	checked := map[string]string{}
	for ci, c := range matrixCases {
		if c.needs != "" && !verifyingMode(mode) {
			if _, done := checked[c.needs]; !done {
				checked[c.needs] = e.configRefusal(t, backend, mode, c.needs)
			}
			got[c.name][mode], how[c.name][mode] = checked[c.needs], ""
			continue
		}
		listeners := []string{c.listener}
		if c.listener == "both" {
			listeners = []string{"main"}
			if verifyingMode(mode) {
				listeners = append(listeners, "rules")
			}
		}
		var cells, ways []string
		for _, l := range listeners {
			for _, proto := range c.protos {
				// A path of its own, to find this probe's request at the origin.
				path := fmt.Sprintf("/%s/%s/%s/case%d/%s", l, backend, mode, ci, proto)
				if c.route {
					path = "/route" + path
				}
				cell, way := e.probe(t, addrs[l], c, proto, path)
				cells = append(cells, l+"/"+proto+": "+cell)
				ways = append(ways, l+"/"+proto+": "+way)
			}
		}
		got[c.name][mode], how[c.name][mode] = collapse(cells), collapse(ways)
	}
	if t.Failed() {
		t.Logf("gantry output:\n%s", p.out())
	}
}

// collapse is the one text all probes agree on, or every probe's.
func collapse(labelled []string) string {
	first := ""
	for i, s := range labelled {
		v := s[strings.Index(s, ": ")+2:]
		if i == 0 {
			first = v
		} else if v != first {
			return strings.Join(labelled, "; ")
		}
	}
	return first
}

// configRefusal runs `gantry check` on the config a non-verifying mode
// cannot have and says whether it was refused with the reason at the key.
func (e *matrixEnv) configRefusal(t *testing.T, backend, mode, needs string) string {
	t.Helper()
	file := filepath.Join(e.dir, fmt.Sprintf("check-%s-%s-%s.yaml", backend, mode, needs))
	require.NoError(t, writeFile(file, []byte(e.matrixConfig(backend, mode, needs))))
	code, stdout, stderr := runGantry(t, "check", "-c", file)
	want := map[string]string{
		"crl":      "listeners[0].tls.client_auth.crls: CRLs are set but mode " + mode + " does not verify",
		"identity": "listeners[0].tls.client_identity: needs client_auth.mode verify-if-given or require-and-verify (it is " + mode + ")",
	}[needs]
	switch {
	case code == 0:
		return "config accepted"
	case code == 1 && strings.Contains(stdout+stderr, want):
		return "config refused"
	default:
		t.Logf("gantry check %s: exit %d\n%s%s", file, code, stdout, stderr)
		return fmt.Sprintf("config error (exit %d)", code)
	}
}

// waitListeners waits for n listeners' startup lines and returns their
// addresses by name.
func waitListeners(t *testing.T, p *process, n int) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`listener "([^"]+)" on https://(\S+) `)
	addrs := map[string]string{}
	for len(addrs) < n {
		m := re.FindStringSubmatch(p.waitLine(t, `listener "`))
		require.NotNil(t, m)
		addrs[m[1]] = m[2]
	}
	return addrs
}

// spoofedHeaders are identity headers in the spellings origins read,
// forged by the client. Every value says "spoofed".
var spoofedHeaders = map[string][]string{
	"X-Forwarded-Client-Cert": {`Hash=spoofed;Subject="CN=admin"`},
	"Client-Cert":             {":spoofed:", ":spoofed-twice:"},
	"cLIENT-cERT":             {":spoofed-case:"},
	"Client-Cert-Chain":       {":spoofed:"},
	"X-SSL-Client-Cert":       {"spoofed"},
	"X-SSL-Client-Verify":     {"SUCCESS spoofed"},
	"X-SSL-Client-S-DN":       {"CN=admin spoofed"},
	"X-Client-Cert":           {"spoofed"},
	"X-Client-Cert-Subject":   {"CN=admin spoofed"},
	"x_forwarded_client_cert": {"spoofed"},
	"X_SSL_CLIENT_VERIFY":     {"SUCCESS spoofed"},
}

// probe sends one GET and judges what the client and the origin saw.
func (e *matrixEnv) probe(t *testing.T, addr string, c matrixCase, proto, path string) (cell, way string) {
	t.Helper()
	var client *matrixClient
	if c.cert != "" {
		client = e.clients[c.cert]
		require.NotNil(t, client, c.cert)
	}
	header := http.Header{}
	if c.spoof {
		for k, v := range spoofedHeaders {
			header[k] = v
		}
		if proto == "h1" {
			// Naming them as hop-by-hop must not remove Gantry's own.
			header["Connection"] = []string{"keep-alive, X-Forwarded-Client-Cert, Client-Cert"}
		}
	}
	res := matrixRequest(t, addr, e.roots, client, proto, path, header)
	seen := e.origin.requests(path)
	if res.err == nil && res.status == http.StatusOK {
		e.forwarded++
	}
	switch {
	case res.dialErr != nil && !res.handshook && isTCPError(res.dialErr):
		return "no connection: " + res.dialErr.Error(), ""
	case res.err != nil:
		way = refusalWay(t, addr, matrixTLSConfig(e.roots, client, proto))
		if len(seen) > 0 {
			return "refused, but reached origin", way
		}
		return "refused", way
	case len(seen) > 0 && res.status != http.StatusOK:
		return fmt.Sprintf("%d, but reached origin", res.status), ""
	case res.status != http.StatusOK:
		return fmt.Sprint(res.status), ""
	case len(seen) != 1:
		return fmt.Sprintf("200, origin saw %d requests", len(seen)), ""
	case res.protoMajor != map[string]int{"h1": 1, "h2": 2}[proto]:
		return fmt.Sprintf("200 over HTTP/%d", res.protoMajor), ""
	}
	ids := identityHeaders(seen[0])
	switch {
	case len(ids) == 0 && c.spoof:
		return "200 stripped", ""
	case len(ids) == 0:
		return "200", ""
	case client != nil && reflect.DeepEqual(ids, gantryIdentity(client.leaf)):
		return "200 fwd", ""
	default:
		names := make([]string, 0, len(ids))
		for k := range ids {
			names = append(names, k)
		}
		sort.Strings(names)
		t.Logf("%s %s: origin got identity headers %q", path, proto, ids)
		return "200 unexpected identity headers: " + strings.Join(names, ","), ""
	}
}

var alertText = regexp.MustCompile(`remote error: tls: ([a-z ]+)`)

// refusalWay says how the server refuses a connection, learnt on a second
// one that sends no request (the HTTP clients hide the first one's end):
// "hs" when the client's own handshake fails (else the server refuses
// after it), then the TLS alert the server sent, or "EOF" for a
// connection closed without one. It is for the printout only: whether an
// alert is read or the close comes first is the server's to choose.
func refusalWay(t *testing.T, addr string, cfg *stdtls.Config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := (&stdtls.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	way := "hs "
	if err == nil {
		way = ""
		defer c.Close()
		// Bounds a server that waits for a request instead of refusing.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	switch m := alertText.FindStringSubmatch(fmt.Sprint(err)); {
	case m != nil:
		return way + "alert " + m[1]
	case errors.Is(err, io.EOF):
		return way + "EOF"
	default:
		t.Logf("%s: %v", addr, err)
		return way + "other"
	}
}

func isTCPError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// gantryIdentity is what Gantry must forward for leaf with forward
// {client_cert, client_cert_chain, xfcc}, written out from docs/CONFIG.md:
// Client-Cert is the DER as an RFC 8941 byte sequence; Client-Cert-Chain is
// absent because the client CA issued leaf directly; X-Forwarded-Client-Cert
// is Hash, Subject and one URI per URI SAN.
func gantryIdentity(leaf *x509.Certificate) map[string][]string {
	sum := sha256.Sum256(leaf.Raw)
	xfcc := "Hash=" + hex.EncodeToString(sum[:]) + `;Subject="CN=` + leaf.Subject.CommonName + `"`
	for _, u := range leaf.URIs {
		xfcc += ";URI=" + u.String()
	}
	return map[string][]string{
		"client-cert":             {":" + base64.StdEncoding.EncodeToString(leaf.Raw) + ":"},
		"x-forwarded-client-cert": {xfcc},
	}
}

// identityHeaders are the headers of h an origin could take for a client
// certificate, by name folded as frameworks fold it (any case, "_" for
// "-"), plus any header carrying a forged value.
func identityHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		identity := n == "client-cert" || n == "client-cert-chain" || n == "x-forwarded-client-cert" ||
			strings.HasPrefix(n, "x-ssl-client") || strings.HasPrefix(n, "x-client-cert")
		if identity || slices.ContainsFunc(vs, func(v string) bool { return strings.Contains(v, "spoofed") }) {
			out[n] = append(out[n], vs...)
		}
	}
	return out
}

type matrixResult struct {
	status, protoMajor int
	handshook          bool  // the client's TLS handshake completed
	dialErr            error // from connecting or the handshake
	err                error // no response
}

// matrixTLSConfig is the client's TLS config: it offers only proto in
// ALPN and presents client's certificate whenever the server asks, whatever
// CAs it names (crypto/tls would otherwise keep back a certificate of a CA
// the server does not list).
func matrixTLSConfig(roots *x509.CertPool, client *matrixClient, proto string) *stdtls.Config {
	cfg := &stdtls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: stdtls.VersionTLS12,
		NextProtos: []string{map[string]string{"h1": "http/1.1", "h2": "h2"}[proto]}}
	if client != nil {
		cfg.GetClientCertificate = func(*stdtls.CertificateRequestInfo) (*stdtls.Certificate, error) { return &client.tls, nil }
	}
	return cfg
}

// matrixRequest sends GET path to addr over proto ("h1" or "h2") on a
// connection of its own (no reuse, no resumption), presenting client's
// certificate whenever the server asks, whatever CAs it names.
func matrixRequest(t *testing.T, addr string, roots *x509.CertPool, client *matrixClient, proto, path string, header http.Header) matrixResult {
	t.Helper()
	cfg := matrixTLSConfig(roots, client, proto)
	var res matrixResult
	var mu sync.Mutex
	protocols := new(http.Protocols)
	if proto == "h2" {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	tr := &http.Transport{
		Protocols:         protocols,
		DisableKeepAlives: true,
		DialTLSContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := (&stdtls.Dialer{Config: cfg}).DialContext(ctx, network, a)
			mu.Lock()
			defer mu.Unlock()
			res.handshook = err == nil
			res.dialErr = err
			return c, err
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		res.err = err
		return res
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	res.status, res.protoMajor = resp.StatusCode, resp.ProtoMajor
	return res
}

// matrixOrigin is a plain HTTP origin that keeps the headers of every
// request it gets, by path.
type matrixOrigin struct {
	addr string
	mu   sync.Mutex
	seen map[string][]http.Header
}

func startMatrixOrigin(t *testing.T) *matrixOrigin {
	t.Helper()
	o := &matrixOrigin{seen: map[string][]http.Header{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen[r.URL.Path] = append(o.seen[r.URL.Path], r.Header.Clone())
		o.mu.Unlock()
		fmt.Fprintln(w, "origin ok")
	}))
	t.Cleanup(srv.Close)
	o.addr = srv.Listener.Addr().String()
	return o
}

func (o *matrixOrigin) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, hs := range o.seen {
		n += len(hs)
	}
	return n
}

func (o *matrixOrigin) requests(path string) []http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen[path]
}

// formatMatrix is the table of cells: a row per case, a column per mode.
func formatMatrix(title string, cells map[string]map[string]string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "%s\t%s\t\n", title, strings.Join(matrixModes, "\t"))
	for _, c := range matrixCases {
		row := make([]string, len(matrixModes))
		for i, mode := range matrixModes {
			row[i] = cells[c.name][mode]
			if row[i] == "" {
				row[i] = "-"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t\n", c.name, strings.Join(row, "\t"))
	}
	_ = w.Flush()
	return b.String() + "\n"
}
