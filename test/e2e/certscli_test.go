package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// certsCLI runs `gantry certs ARGS...`, which must succeed, and returns
// the serial number it printed.
func certsCLI(t *testing.T, args ...string) (serial *big.Int, stdout string) {
	t.Helper()
	code, stdout, stderr := runGantry(t, append([]string{"certs"}, args...)...)
	require.Equal(t, 0, code, "gantry certs %v\nstdout: %s\nstderr: %s", args, stdout, stderr)
	m := regexp.MustCompile(`serial: +(\d+) \(hex 0x([0-9A-F]+)\)`).FindStringSubmatch(stdout)
	if m == nil {
		return nil, stdout
	}
	dec, ok := new(big.Int).SetString(m[1], 10)
	require.True(t, ok)
	hex, ok := new(big.Int).SetString(m[2], 16)
	require.True(t, ok)
	require.Equal(t, dec, hex, "the decimal and hexadecimal serials agree")
	return dec, stdout
}

func readPEM(t *testing.T, path, typ string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	b, rest := pem.Decode(data)
	require.NotNil(t, b, path)
	require.Equal(t, typ, b.Type, path)
	require.Empty(t, rest, "%s holds one PEM block", path)
	return b.Bytes
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readPEM(t, path, "CERTIFICATE"))
	require.NoError(t, err)
	return c
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, want, fi.Mode().Perm(), path)
}

// TestCertsCLI: a CA, a server and a client certificate from it, and a CRL
// revoking the client, made by the binary and checked with crypto/x509.
func TestCertsCLI(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	caSerial, _ := certsCLI(t, "ca", "--out", pki, "--cn", "Walkthrough CA")
	ca := readCert(t, filepath.Join(pki, "ca.pem"))
	assert.True(t, ca.IsCA)
	assert.Equal(t, "Walkthrough CA", ca.Subject.CommonName)
	assert.Equal(t, caSerial, ca.SerialNumber)
	assertMode(t, filepath.Join(pki, "ca-key.pem"), 0o600)
	assertMode(t, filepath.Join(pki, "ca.pem"), 0o644)
	assertMode(t, pki, 0o700)
	_, err := x509.ParsePKCS8PrivateKey(readPEM(t, filepath.Join(pki, "ca-key.pem"), "PRIVATE KEY"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	srvSerial, _ := certsCLI(t, "server", "--ca", pki, "--names", "localhost, proxy.test,127.0.0.1", "--out", dir, "--name", "front")
	srv := readCert(t, filepath.Join(dir, "front.pem"))
	assertMode(t, filepath.Join(dir, "front-key.pem"), 0o600)
	assert.Equal(t, srvSerial, srv.SerialNumber)
	assert.Equal(t, []string{"localhost", "proxy.test"}, srv.DNSNames)
	require.Len(t, srv.IPAddresses, 1)
	assert.True(t, srv.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")))
	_, err = srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: "proxy.test", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	require.NoError(t, err)

	cliSerial, out := certsCLI(t, "client", "--ca", pki, "--out", dir, "--name", "billing", "--cn", "billing-svc",
		"--ou", "payments", "--ou", "eu", "--dns", "billing.internal", "--dns", "billing.example.org",
		"--uri", "spiffe://example.org/ns/prod/sa/billing", "--email", "billing@example.org")
	assert.Contains(t, out, filepath.Join(dir, "billing-key.pem"))
	cli := readCert(t, filepath.Join(dir, "billing.pem"))
	assertMode(t, filepath.Join(dir, "billing-key.pem"), 0o600)
	assert.Equal(t, cliSerial, cli.SerialNumber)
	assert.Equal(t, "billing-svc", cli.Subject.CommonName)
	assert.ElementsMatch(t, []string{"payments", "eu"}, cli.Subject.OrganizationalUnit, "a DER SET: in sorted order")
	assert.Equal(t, []string{"billing.internal", "billing.example.org"}, cli.DNSNames)
	require.Len(t, cli.URIs, 1)
	assert.Equal(t, "spiffe://example.org/ns/prod/sa/billing", cli.URIs[0].String())
	assert.Equal(t, []string{"billing@example.org"}, cli.EmailAddresses)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cli.ExtKeyUsage)
	_, err = cli.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err, "the client certificate chains to the CA")

	// A URI-only identity, without a common name.
	_, _ = certsCLI(t, "client", "--ca", pki, "--out", dir, "--name", "spiffe", "--cn", "", "--uri", "spiffe://example.org/x")
	sp := readCert(t, filepath.Join(dir, "spiffe.pem"))
	assert.Empty(t, sp.Subject.CommonName)
	// The default common name is --name.
	_, _ = certsCLI(t, "client", "--ca", pki, "--out", dir)
	assert.Equal(t, "client", readCert(t, filepath.Join(dir, "client.pem")).Subject.CommonName)

	crlFile := filepath.Join(dir, "clients.crl")
	_, out = certsCLI(t, "crl", "--ca", pki, "--revoke", fmt.Sprintf("0x%X,12345", cliSerial.Bytes()), "--out", crlFile, "--next-update", "48h")
	assert.Contains(t, out, cliSerial.String())
	crl, err := x509.ParseRevocationList(readPEM(t, crlFile, "X509 CRL"))
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(ca), "the CRL is signed by the CA")
	require.Len(t, crl.RevokedCertificateEntries, 2)
	assert.Equal(t, cliSerial, crl.RevokedCertificateEntries[0].SerialNumber)
	assert.Equal(t, big.NewInt(12345), crl.RevokedCertificateEntries[1].SerialNumber)
	assert.WithinDuration(t, time.Now().Add(48*time.Hour), crl.NextUpdate, 5*time.Minute)

	// Every subcommand explains itself with an example.
	for _, sub := range []string{"ca", "server", "client", "crl"} {
		code, stdout, _ := runGantry(t, "certs", sub, "--help")
		assert.Equal(t, 0, code, sub)
		assert.Contains(t, stdout, "Example:\n  gantry certs "+sub, sub)
	}
	code, _, stderr := runGantry(t, "certs", "crl", "--ca", pki, "--revoke", "12ab", "--out", filepath.Join(dir, "bad.crl"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "bad serial number")

	// A list that revokes nothing, then one revoking a certificate by its
	// file; a certificate of another CA cannot be revoked by this one.
	emptyFile := filepath.Join(dir, "empty.crl")
	_, out = certsCLI(t, "crl", "--ca", pki, "--out", emptyFile)
	assert.Contains(t, out, "revoked:     none")
	empty, err := x509.ParseRevocationList(readPEM(t, emptyFile, "X509 CRL"))
	require.NoError(t, err)
	assert.Empty(t, empty.RevokedCertificateEntries)
	certsCLI(t, "crl", "--ca", pki, "--revoke-cert", filepath.Join(dir, "billing.pem"), "--out", emptyFile, "--force")
	byFile, err := x509.ParseRevocationList(readPEM(t, emptyFile, "X509 CRL"))
	require.NoError(t, err)
	require.Len(t, byFile.RevokedCertificateEntries, 1)
	assert.Equal(t, cliSerial, byFile.RevokedCertificateEntries[0].SerialNumber)
	other := t.TempDir()
	certsCLI(t, "ca", "--out", other)
	code, _, stderr = runGantry(t, "certs", "crl", "--ca", other, "--revoke-cert", filepath.Join(dir, "client.pem"), "--out", filepath.Join(other, "x.crl"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "was not issued by this CA")
	code, _, stderr = runGantry(t, "certs", "server", "--ca", pki, "--out", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--names is required")
}

// TestCertsCLIForce: existing files are kept unless --force, for each
// subcommand, and nothing is half written.
func TestCertsCLIForce(t *testing.T) {
	dir := t.TempDir()
	certsCLI(t, "ca", "--out", dir)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	serverSerial, _ := certsCLI(t, "server", "--ca", dir, "--names", "localhost", "--out", dir)
	clientSerial, _ := certsCLI(t, "client", "--ca", dir, "--out", dir)
	crlFile := filepath.Join(dir, "c.crl")
	certsCLI(t, "crl", "--ca", dir, "--revoke", clientSerial.String(), "--out", crlFile)
	crlPEM, err := os.ReadFile(crlFile)
	require.NoError(t, err)

	for _, args := range [][]string{
		{"ca", "--out", dir},
		{"server", "--ca", dir, "--names", "localhost", "--out", dir},
		{"client", "--ca", dir, "--out", dir},
		{"crl", "--ca", dir, "--revoke", "1", "--out", crlFile},
	} {
		code, stdout, stderr := runGantry(t, append([]string{"certs"}, args...)...)
		assert.Equal(t, 1, code, "%v: %s", args, stdout)
		assert.Contains(t, stderr, "already exists (use --force to replace it)", args)
	}
	after, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	assert.Equal(t, caPEM, after, "the CA was kept")
	assert.Equal(t, serverSerial, readCert(t, filepath.Join(dir, "server.pem")).SerialNumber)
	assert.Equal(t, clientSerial, readCert(t, filepath.Join(dir, "client.pem")).SerialNumber)
	after, err = os.ReadFile(crlFile)
	require.NoError(t, err)
	assert.Equal(t, crlPEM, after, "the CRL was kept")

	// --force replaces, and keys stay 0600 even when replaced.
	require.NoError(t, os.Chmod(filepath.Join(dir, "client-key.pem"), 0o644))
	newClient, _ := certsCLI(t, "client", "--ca", dir, "--out", dir, "--force")
	assert.NotEqual(t, clientSerial, newClient)
	assert.Equal(t, newClient, readCert(t, filepath.Join(dir, "client.pem")).SerialNumber)
	assertMode(t, filepath.Join(dir, "client-key.pem"), 0o600)
	certsCLI(t, "crl", "--ca", dir, "--revoke", newClient.String(), "--out", crlFile, "--force")
	crl, err := x509.ParseRevocationList(readPEM(t, crlFile, "X509 CRL"))
	require.NoError(t, err)
	require.Len(t, crl.RevokedCertificateEntries, 1)
	assert.Equal(t, newClient, crl.RevokedCertificateEntries[0].SerialNumber)
	certsCLI(t, "ca", "--out", dir, "--force")
	after, err = os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	assert.NotEqual(t, caPEM, after, "a new CA")
	assertMode(t, filepath.Join(dir, "ca-key.pem"), 0o600)
}

// TestCertsCLIRevokedClient: the mTLS walkthrough. `gantry serve` with
// require-and-verify and a CRL from `gantry certs crl` refuses the revoked
// client and lets in another client of the same CA.
func TestCertsCLIRevokedClient(t *testing.T) {
	dir := t.TempDir()
	certsCLI(t, "ca", "--out", dir)
	certsCLI(t, "server", "--ca", dir, "--names", "localhost,127.0.0.1", "--out", dir)
	revoked, _ := certsCLI(t, "client", "--ca", dir, "--out", dir, "--name", "mallory")
	certsCLI(t, "client", "--ca", dir, "--out", dir, "--name", "alice", "--uri", "spiffe://example.org/alice")
	certsCLI(t, "crl", "--ca", dir, "--revoke", revoked.String(), "--out", filepath.Join(dir, "clients.crl"))

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "origin ok")
	}))
	t.Cleanup(origin.Close)
	file := filepath.Join(dir, "gantry.yaml")
	require.NoError(t, writeFile(file, fmt.Appendf(nil, `
listeners:
  - name: mtls
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: ca.pem, crls: [clients.crl]}
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log: false}
`, origin.Listener.Addr().String())))
	p := start(t, "serve", "-c", file)
	m := regexp.MustCompile(`listener "mtls" on https://(\S+) `).FindStringSubmatch(p.waitLine(t, "listener "))
	require.NotNil(t, m)
	_, port, err := net.SplitHostPort(m[1])
	require.NoError(t, err)
	url := "https://localhost:" + port + "/"
	caFile := filepath.Join(dir, "ca.pem")

	out := curl(t, "--cacert", caFile, "--cert", filepath.Join(dir, "alice.pem"), "--key", filepath.Join(dir, "alice-key.pem"), "-w", "%{http_code}", url)
	assert.Equal(t, "origin ok\n200", out, "an unrevoked client of the CA gets through")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "30", "--cacert", caFile,
		"--cert", filepath.Join(dir, "mallory.pem"), "--key", filepath.Join(dir, "mallory-key.pem"), url).Output()
	assert.Error(t, err, "the revoked client is refused")
	assert.NotContains(t, string(body), "origin ok")
}
