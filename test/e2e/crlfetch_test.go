package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// crlPoint is an http CRL distribution point of one CA. It signs a new
// list for each request, due an hour later, as a CA publishing often
// does, so when Gantry fetches again does not depend on how long after
// the test published a change it first fetched.
type crlPoint struct {
	t       *testing.T
	ca      *certs.DevCA
	srv     *httptest.Server
	mu      sync.Mutex
	revoked []*big.Int
}

func newCRLPoint(t *testing.T, ca *certs.DevCA) *crlPoint {
	p := &crlPoint{t: t, ca: ca}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		serials := p.revoked
		p.mu.Unlock()
		data, err := p.ca.CRL(serials, time.Now().Add(time.Hour))
		block, _ := pem.Decode(data)
		if err != nil || block == nil {
			http.Error(w, "no CRL", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(block.Bytes)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// revoke makes every list served from now on revoke certs.
func (p *crlPoint) revoke(certs ...*x509.Certificate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range certs {
		p.revoked = append(p.revoked, c.SerialNumber)
	}
}

// TestCRLFetchThroughBinary: a listener with client_auth.crl_fetch lets a
// client in while the CRL at the client certificate's distribution point
// is clean, and refuses it once the point's list revokes it and Gantry has
// fetched it again, without a reload, on every backend.
func TestCRLFetchThroughBinary(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t)
			ca, err := certs.NewDevCA()
			require.NoError(t, err)
			point := newCRLPoint(t, ca)
			client, err := ca.IssueClientWith(certs.ClientOptions{CommonName: "alice",
				CRLDistributionPoints: []string{point.srv.URL + "/clients.crl"}})
			require.NoError(t, err)
			require.NoError(t, client.WriteFiles(filepath.Join(e.dir, "alice.pem"), filepath.Join(e.dir, "alice-key.pem")))
			require.NoError(t, writeFile(filepath.Join(e.dir, "client-ca.pem"), ca.CertPEM()))

			text := strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
				fmt.Sprintf("      backend: %s\n      certificates: [{cert: server.pem, key: server-key.pem}]\n"+
					"      client_auth:\n        mode: require-and-verify\n        ca: client-ca.pem\n"+
					"        crl_fetch: {enabled: true, cache_dir: crl-cache, refresh_before: 59m57s}\n", backend), 1)
			text = strings.Replace(text, "logging: {access_log: false, format: text}", "logging: {access_log: false, format: text, level: debug}", 1)
			e.write(t, text)
			p := e.serve(t)

			url := "https://localhost" + e.addr[strings.LastIndex(e.addr, ":"):] + "/"
			args := []string{"--cacert", filepath.Join(e.dir, "ca.pem"), "--cert", filepath.Join(e.dir, "alice.pem"),
				"--key", filepath.Join(e.dir, "alice-key.pem"), url}
			assert.Equal(t, "A", curl(t, args...))
			cached, err := os.ReadDir(filepath.Join(e.dir, "crl-cache"))
			require.NoError(t, err)
			assert.Len(t, cached, 1, "the fetched CRL is kept in cache_dir")

			point.revoke(client.Cert)
			// Lists due an hour after they are served and refresh_before
			// 59m57s: Gantry fetches again three seconds after each fetch.
			refused := false
			for range 300 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				body, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "30"}, args...)...).Output()
				cancel()
				if err != nil {
					assert.NotContains(t, string(body), "A")
					refused = true
					break
				}
				require.Equal(t, "A", string(body))
				time.Sleep(100 * time.Millisecond)
			}
			require.True(t, refused, "the revoked client is refused once the new list is fetched; output:\n%s", p.out())
			require.Eventually(t, func() bool { return strings.Contains(p.out(), "is revoked by the CRL of issuer") },
				time.Minute, 50*time.Millisecond, "refused as revoked, not for another reason; output:\n%s", p.out())

			// With the distribution point gone, a reload (which builds a
			// new fetcher) still refuses the client: the copy in
			// cache_dir serves at once.
			point.srv.Close()
			revokedLines := strings.Count(p.out(), "is revoked by the CRL of issuer")
			code, stdout, stderr := runGantry(t, "reload", "-c", e.file)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			body, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "30"}, args...)...).Output()
			assert.Error(t, err, "still refused after the reload")
			assert.NotContains(t, string(body), "A")
			require.Eventually(t, func() bool { return strings.Count(p.out(), "is revoked by the CRL of issuer") > revokedLines },
				time.Minute, 50*time.Millisecond, "refused as revoked by the cached list; output:\n%s", p.out())
			require.Eventually(t, func() bool { return strings.Contains(p.out(), "CRL fetch failed") },
				time.Minute, 50*time.Millisecond, "the failed refresh is logged; output:\n%s", p.out())
			assert.Contains(t, p.out(), point.srv.URL+"/clients.crl", "with its URL")
			_, metrics := e.scrape("/metrics")
			assert.Regexp(t, `gantry_crl_fetch_total\{result="ok"\} [1-9]`, metrics)
			assert.Regexp(t, `gantry_crl_fetch_total\{result="error"\} [1-9]`, metrics)
		})
	}
}

// TestCheckCRLFetch: gantry check refuses crl_fetch without a cache
// directory, at its file, line and key.
func TestCheckCRLFetch(t *testing.T) {
	dir := t.TempDir()
	_, err := certs.WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	text := `listeners:
  - address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth:
        mode: require-and-verify
        ca: ca.pem
        crl_fetch:
          enabled: true
          timeout: 0s
routes: [{upstream: app}]
upstreams:
  app: {addresses: ["127.0.0.1:1"]}
`
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, writeFile(file, []byte(text)))
	code, stdout, stderr := runGantry(t, "check", "-c", file)
	assert.Equal(t, 1, code, "stdout: %s", stdout)
	assert.Contains(t, stderr, file+":8: listeners[0].tls.client_auth.crl_fetch.cache_dir: is required when crl_fetch is enabled")
	assert.Contains(t, stderr, file+":10: listeners[0].tls.client_auth.crl_fetch.timeout: must be positive")
}
