package proxy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// LoadedCertificate is a certificate the proxy holds from its files, for
// watching expiry: one it serves, a CA it trusts for client certificates,
// or a client certificate it presents upstream.
type LoadedCertificate struct {
	// Listener names the listener; empty for an upstream's.
	Listener string
	// Role is CertServed, CertClientCA or CertUpstreamClient.
	Role string
	Leaf *x509.Certificate
}

// The roles of a LoadedCertificate.
const (
	CertServed         = "served"
	CertClientCA       = "client_ca"
	CertUpstreamClient = "upstream_client"
)

// CertificateFiles lists every certificate, key, CA, CRL and ticket key
// file the proxy's listeners and upstreams read, each once: the files whose
// change ReloadCertificates picks up.
func (p *Proxy) CertificateFiles() []string {
	var out []string
	add := func(names []string) {
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for _, l := range p.listeners {
		if s, ok := l.tlsServer.(*certs.Server); ok {
			add(s.Files().Paths())
		}
	}
	if p.upstreams != nil {
		add(p.upstreams.CertificateFiles())
	}
	return out
}

// ReloadCertificates re-reads the files of every listener and upstream
// without rebuilding anything else: routes, pools and open connections
// stay as they are, and new handshakes use the new files. Each listener
// and upstream swaps atomically or, when one of its files is broken,
// half-written or does not match its pair, keeps what it had; the error
// joins one error per refusal, naming the listener and the file's key.
func (p *Proxy) ReloadCertificates() error {
	var errs []error
	for _, l := range p.listeners {
		s, ok := l.tlsServer.(*certs.Server)
		if !ok {
			continue
		}
		if err := s.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("listener %q: %w", l.name, err))
		}
	}
	if p.upstreams != nil {
		if err := p.upstreams.ReloadCertificates(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LoadedCertificates lists the certificates of the last successful load of
// every listener's and upstream's files.
func (p *Proxy) LoadedCertificates() []LoadedCertificate {
	var out []LoadedCertificate
	add := func(listener, role string, c *gantrytls.Certificate) {
		leaf := c.Leaf
		if leaf == nil && len(c.Chain) > 0 {
			leaf, _ = x509.ParseCertificate(c.Chain[0])
		}
		if leaf != nil {
			out = append(out, LoadedCertificate{Listener: listener, Role: role, Leaf: leaf})
		}
	}
	for _, l := range p.listeners {
		s, ok := l.tlsServer.(*certs.Server)
		if !ok {
			continue
		}
		for i := range s.Certificates() {
			add(l.name, CertServed, &s.Certificates()[i])
		}
		for _, ca := range s.ClientCAs() {
			out = append(out, LoadedCertificate{Listener: l.name, Role: CertClientCA, Leaf: ca})
		}
	}
	if p.upstreams != nil {
		for _, c := range p.upstreams.ClientCertificates() {
			add("", CertUpstreamClient, c)
		}
	}
	return out
}
