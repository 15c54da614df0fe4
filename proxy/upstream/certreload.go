package upstream

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// reloadable returns the clients whose TLS reads files, so can reload.
func (t *Transport) reloadable() []*certs.Client {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*certs.Client
	for _, c := range t.clients {
		if rc, ok := c.tls.(*certs.Client); ok {
			out = append(out, rc)
		}
	}
	return out
}

// CertificateFiles lists the files the upstream TLS clients read: CAs,
// client certificates and their keys.
func (t *Transport) CertificateFiles() []string {
	var out []string
	for _, rc := range t.reloadable() {
		for _, f := range rc.Files().Paths() {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// ReloadCertificates re-reads every upstream client's files. Each client
// swaps in its new files or, on error, keeps its old ones: one broken file
// holds back only the clients that read it. Pooled connections are kept;
// new ones use the new files.
func (t *Transport) ReloadCertificates() error {
	var errs []error
	for _, rc := range t.reloadable() {
		if err := rc.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("upstream TLS: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ClientCertificates are the client certificates the upstream TLS clients
// present, from their last successful load.
func (t *Transport) ClientCertificates() []*gantrytls.Certificate {
	var out []*gantrytls.Certificate
	for _, rc := range t.reloadable() {
		if c := rc.Certificate(); c != nil {
			out = append(out, c)
		}
	}
	return out
}
