package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ocsp"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// fetchOCSP asks the leaf's responder for its status by HTTP POST
// (RFC 6960, appendix A), bounded in time and size, and checks the answer.
// Redirects are not followed: a responder is named by the CA, not found.
func fetchOCSP(ctx context.Context, leaf, issuer *x509.Certificate, timeout time.Duration, maxBytes int) (*ocsp.Response, error) {
	url, err := responderURL(leaf)
	if err != nil {
		return nil, err
	}
	req, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("make OCSP request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	transport := &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OCSP responder %s answered HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	if len(body) > maxBytes {
		return nil, fmt.Errorf("OCSP responder %s sent more than %d bytes", url, maxBytes)
	}
	r, err := gantrytls.CheckOCSPResponse(body, leaf, issuer, time.Now())
	if err != nil {
		return nil, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	return r, nil
}

// cacheFile names the cached response of leaf: its SHA-256 fingerprint,
// so a renewed certificate never picks up its predecessor's response.
func cacheFile(dir string, leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".ocsp")
}

// writeCache stores der as leaf's cached response, mode 0600, atomically.
func writeCache(dir string, leaf *x509.Certificate, der []byte) error {
	return WriteFileAtomic(cacheFile(dir, leaf), der, 0o600)
}

// errNoSource is a slot with nothing to refresh from.
var errNoSource = errors.New("no OCSP source")
