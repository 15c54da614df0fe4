package proxy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/gantry-proxy/gantry/certs"
)

// ServedCertificate is a certificate a listener serves to new connections.
type ServedCertificate struct {
	Listener string
	Leaf     *x509.Certificate
}

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

// ServedCertificates lists the leaf certificates the listeners serve now,
// after the last successful load of their files.
func (p *Proxy) ServedCertificates() []ServedCertificate {
	var out []ServedCertificate
	for _, l := range p.listeners {
		s, ok := l.tlsServer.(*certs.Server)
		if !ok {
			continue
		}
		for _, c := range s.Certificates() {
			leaf := c.Leaf
			if leaf == nil && len(c.Chain) > 0 {
				leaf, _ = x509.ParseCertificate(c.Chain[0])
			}
			if leaf != nil {
				out = append(out, ServedCertificate{Listener: l.name, Leaf: leaf})
			}
		}
	}
	return out
}
