package certs

import (
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

func TestDevCAIssuesVerifiableCertificates(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	assert.True(t, ca.Certificate().IsCA)

	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())

	server, err := ca.IssueServer("localhost", "127.0.0.1", "::1")
	require.NoError(t, err)
	client, err := ca.IssueClient("alice")
	require.NoError(t, err)

	tests := []struct {
		name    string
		cert    *x509.Certificate
		dnsName string
		usage   x509.ExtKeyUsage
		wantErr bool
	}{
		{"server by DNS name", server.Cert, "localhost", x509.ExtKeyUsageServerAuth, false},
		{"server by IPv4", server.Cert, "127.0.0.1", x509.ExtKeyUsageServerAuth, false},
		{"server by IPv6", server.Cert, "::1", x509.ExtKeyUsageServerAuth, false},
		{"server wrong name", server.Cert, "example.com", x509.ExtKeyUsageServerAuth, true},
		{"server used as client", server.Cert, "", x509.ExtKeyUsageClientAuth, true},
		{"client", client.Cert, "", x509.ExtKeyUsageClientAuth, false},
		{"client used as server", client.Cert, "", x509.ExtKeyUsageServerAuth, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cert.Verify(x509.VerifyOptions{
				Roots: roots, DNSName: tt.dnsName, KeyUsages: []x509.ExtKeyUsage{tt.usage},
			})
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	assert.Equal(t, "alice", client.Cert.Subject.CommonName)

	other, err := NewDevCA()
	require.NoError(t, err)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.Certificate())
	_, err = server.Cert.Verify(x509.VerifyOptions{Roots: otherRoots, DNSName: "localhost"})
	assert.Error(t, err, "a second CA must not vouch for the first one's certificates")
}

func TestIssuedPEMRoundTrips(t *testing.T) {
	ca, err := NewDevCA()
	require.NoError(t, err)
	server, err := ca.IssueServer("localhost")
	require.NoError(t, err)

	keyPEM, err := server.KeyPEM()
	require.NoError(t, err)
	parsed, err := gantrytls.ParseCertificatePEM(server.CertPEM(), keyPEM)
	require.NoError(t, err)
	assert.Equal(t, server.Cert.Raw, parsed.Chain[0])

	cert, err := server.Certificate()
	require.NoError(t, err)
	assert.Equal(t, "localhost", cert.Leaf.Subject.CommonName)

	cas, err := gantrytls.ParseCertificatesPEM(ca.CertPEM())
	require.NoError(t, err)
	require.Len(t, cas, 1)
	assert.True(t, cas[0].Equal(ca.Certificate()))

	_, err = ca.IssueServer()
	assert.Error(t, err)
	_, err = ca.IssueClient("")
	assert.Error(t, err)
}

func TestWriteDevFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	f, err := WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)

	modes := map[string]os.FileMode{
		f.CA: 0o644, f.ServerCert: 0o644, f.ServerKey: 0o600,
		f.ClientCert: 0o644, f.ClientKey: 0o600,
	}
	for path, want := range modes {
		st, err := os.Stat(path)
		require.NoError(t, err, path)
		assert.Equal(t, want, st.Mode().Perm(), path)
	}
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	server, err := LoadKeyPair(f.ServerCert, f.ServerKey)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"localhost"}, server.Leaf.DNSNames)
	assert.Len(t, server.Leaf.IPAddresses, 2)
	client, err := LoadKeyPair(f.ClientCert, f.ClientKey)
	require.NoError(t, err)
	assert.Equal(t, "gantry-dev-client", client.Leaf.Subject.CommonName)

	caPEM, err := os.ReadFile(f.CA)
	require.NoError(t, err)
	cas, err := gantrytls.ParseCertificatesPEM(caPEM)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(cas[0])
	_, err = server.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"})
	assert.NoError(t, err)

	_, err = WriteDevFiles(dir, nil, "", false)
	assert.ErrorContains(t, err, "already exists")

	f2, err := WriteDevFiles(dir, []string{"example.test"}, "bob", true)
	require.NoError(t, err)
	again, err := LoadKeyPair(f2.ServerCert, f2.ServerKey)
	require.NoError(t, err)
	assert.Equal(t, []string{"example.test"}, again.Leaf.DNSNames)
}

// TestLoadCA: a CA written with WriteFiles and loaded back issues client
// certificates with the identity options, and CRLs, that chain to it.
func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("loadable", false)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	require.NoError(t, ca.WriteFiles(certFile, keyFile))
	fi, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	loaded, err := LoadCA(certFile, keyFile)
	require.NoError(t, err)
	require.True(t, loaded.Certificate().Equal(ca.Certificate()))
	u, err := url.Parse("spiffe://example.org/a")
	require.NoError(t, err)
	c, err := loaded.IssueClientWith(ClientOptions{OrganizationalUnits: []string{"ou"}, URIs: []*url.URL{u},
		DNSNames: []string{"a.test"}, EmailAddresses: []string{"a@example.org"}})
	require.NoError(t, err)
	require.NoError(t, c.Cert.CheckSignatureFrom(ca.Certificate()))
	require.Equal(t, "spiffe://example.org/a", c.Cert.URIs[0].String())
	_, err = loaded.IssueClientWith(ClientOptions{OrganizationalUnits: []string{"ou"}})
	require.Error(t, err, "no identity")

	other, err := NewDevCA()
	require.NoError(t, err)
	otherKey := filepath.Join(dir, "other-key.pem")
	require.NoError(t, other.WriteFiles(filepath.Join(dir, "other.pem"), otherKey))
	_, err = LoadCA(certFile, otherKey)
	require.ErrorContains(t, err, "is not the key of")
	leaf := filepath.Join(dir, "leaf.pem")
	require.NoError(t, c.WriteFiles(leaf, filepath.Join(dir, "leaf-key.pem")))
	_, err = LoadCA(leaf, filepath.Join(dir, "leaf-key.pem"))
	require.ErrorContains(t, err, "not a CA certificate")
}
