package sslconn

import (
	"crypto/x509"
	"fmt"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// certSelector picks a server certificate by SNI name. The engine's
// callback sees only this, the leaves, so it keeps no Server alive.
type certSelector struct {
	leaves []*x509.Certificate
}

func newCertSelector(certs []gtls.Certificate) (*certSelector, error) {
	cs := &certSelector{}
	for _, c := range certs {
		leaf, err := c.ParsedLeaf()
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		cs.leaves = append(cs.leaves, leaf)
	}
	return cs, nil
}

// pick returns the first certificate valid for name, else the first one.
func (s *certSelector) pick(name string) int {
	for i, leaf := range s.leaves {
		if leaf != nil && leaf.VerifyHostname(name) == nil {
			return i
		}
	}
	return 0
}
