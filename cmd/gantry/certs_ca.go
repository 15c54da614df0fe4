package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// The subcommands of `gantry certs` that keep a CA across runs: ca, server,
// client and crl. `certs dev` is in certs.go.

const certsCAAbout = `Makes a CA for development and tutorials, whose key is kept so that it can
go on issuing server and client certificates (certs server, certs client)
and CRLs revoking them (certs crl). Not for production.

Writes into DIR (created with mode 0700 if missing):
  ca.pem        the CA certificate: client_auth.ca, curl --cacert
  ca-key.pem    its private key, mode 0600: keep it secret
Existing files are kept unless --force.

Example:
  gantry certs ca --out ./pki --cn "Example Dev CA"`

const certsServerAbout = `Issues a server certificate signed by the CA in --ca DIR (ca.pem and
ca-key.pem, as 'gantry certs ca' writes them) for --names, DNS names and IP
addresses; the first is also the subject's common name.

Writes into --out DIR (created with mode 0700 if missing) NAME.pem and
NAME-key.pem (mode 0600), NAME being --name. Existing files are kept unless
--force. Prints the certificate's serial number, for 'gantry certs crl'.

Example:
  gantry certs server --ca ./pki --names localhost,127.0.0.1,::1 --out ./pki`

const certsClientAbout = `Issues a client certificate for mTLS signed by the CA in --ca DIR (ca.pem
and ca-key.pem, as 'gantry certs ca' writes them), with the identity that
client_identity rules match on: subject CN and OUs, and DNS, URI (such as a
SPIFFE ID) and email subject alternative names. --ou, --dns, --uri and
--email may be repeated. The common name is --name unless --cn is given;
--cn "" leaves it out, which needs a subject alternative name.

Writes into --out DIR (created with mode 0700 if missing) NAME.pem and
NAME-key.pem (mode 0600), NAME being --name. Existing files are kept unless
--force. Prints the certificate's serial number, for 'gantry certs crl'.

Example:
  gantry certs client --ca ./pki --out ./pki --name billing --cn billing \
    --ou payments --uri spiffe://example.org/billing --email billing@example.org`

const certsCRLAbout = `Writes a certificate revocation list signed by the CA in --ca DIR (ca.pem
and ca-key.pem, as 'gantry certs ca' writes them) for client_auth.crls. It
revokes the serial numbers in --revoke and the certificates in --revoke-cert
files; with neither, it is a list that revokes nothing yet, to name in the
config before anything is revoked. A serial is decimal, or hexadecimal after
0x (colons allowed), as the other certs subcommands print it. The list is
due for renewal after --next-update; a listener refuses every client of the
CA once it has passed (unless client_auth.crl_expired is soft). Its CRL
number is the time, so a later list supersedes an earlier one. An existing
FILE is kept unless --force; it is replaced by a rename, so a listener
watching it (server.watch_files) reads the old list or the new one, never
half of one.

Example:
  gantry certs crl --ca ./pki --out ./pki/clients.crl
  gantry certs crl --ca ./pki --revoke-cert ./pki/billing.pem --out ./pki/clients.crl --force
  gantry certs crl --ca ./pki --revoke 0x1F2E3D,123456789 --out ./pki/clients.crl --force`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// certsCommand is the shared part of the subcommands: flags, the required
// ones, and the files that must not exist yet.
type certsCommand struct {
	*subFlags
	force *bool
}

func newCertsCommand(name, usage, about string) *certsCommand {
	c := &certsCommand{subFlags: newFlags("certs "+name, usage, about)}
	c.force = c.Bool("force", false, "replace existing files")
	return c
}

// start parses args and checks that each of required was given.
func (c *certsCommand) start(args []string, stdout, stderr io.Writer, required ...string) (code int, done bool) {
	if code, done := c.parse(args, stdout, stderr); done {
		return code, true
	}
	if code, done := c.noArgs(stderr); done {
		return code, true
	}
	for _, name := range required {
		if c.Lookup(name).Value.String() == "" {
			fmt.Fprintf(stderr, "gantry %s: --%s is required\n\n", c.Name(), name)
			c.printHelp(stderr)
			return 2, true
		}
	}
	return 0, false
}

// fail reports err and returns the exit code for it.
func (c *certsCommand) fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "gantry %s: %v\n", c.Name(), err)
	return 1
}

// free checks, unless --force, that none of paths exists, before anything
// is made or written.
func (c *certsCommand) free(paths ...string) error {
	if *c.force {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists (use --force to replace it)", p)
		}
	}
	return nil
}

func loadCA(dir string) (*certs.DevCA, error) {
	return certs.LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
}

// serialText is a serial number as the certs subcommands print it and
// `certs crl --revoke` reads it: decimal, then hexadecimal.
func serialText(s *big.Int) string {
	return fmt.Sprintf("%s (hex 0x%X)", s.Text(10), s.Bytes())
}

// parseSerial reads a decimal serial number, or a hexadecimal one after 0x
// with or without colons between bytes.
func parseSerial(s string) (*big.Int, error) {
	n, ok := new(big.Int), false
	if hex, isHex := strings.CutPrefix(strings.ToLower(s), "0x"); isHex {
		n, ok = n.SetString(strings.ReplaceAll(hex, ":", ""), 16)
	} else {
		n, ok = n.SetString(s, 10)
	}
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("bad serial number %q: want a positive decimal number, or hexadecimal after 0x", s)
	}
	return n, nil
}

func runCertsCA(args []string, stdout, stderr io.Writer) int {
	c := newCertsCommand("ca", "gantry certs ca --out DIR [--cn NAME] [--force]", certsCAAbout)
	out := c.String("out", "", "directory to write ca.pem and ca-key.pem into (required)")
	cn := c.String("cn", "", `common name of the CA (default "Gantry Development CA" and a random suffix)`)
	if code, done := c.start(args, stdout, stderr, "out"); done {
		return code
	}
	certFile, keyFile := filepath.Join(*out, "ca.pem"), filepath.Join(*out, "ca-key.pem")
	if err := c.free(certFile, keyFile); err != nil {
		return c.fail(stderr, err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return c.fail(stderr, err)
	}
	ca, err := certs.NewCA(*cn, false)
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := ca.WriteFiles(certFile, keyFile); err != nil {
		return c.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "wrote CA %q (not for production):\n", ca.Certificate().Subject.CommonName)
	fmt.Fprintf(stdout, "  certificate: %s\n", certFile)
	fmt.Fprintf(stdout, "  key:         %s (keep it secret)\n", keyFile)
	fmt.Fprintf(stdout, "  serial:      %s\n", serialText(ca.Certificate().SerialNumber))
	return 0
}

func runCertsServer(args []string, stdout, stderr io.Writer) int {
	c := newCertsCommand("server", "gantry certs server --ca DIR --names a,b[,IP] --out DIR [--name server] [--force]", certsServerAbout)
	caDir := c.String("ca", "", "directory of the CA's ca.pem and ca-key.pem (required)")
	names := c.String("names", "", "comma-separated DNS names and IP addresses the certificate is for (required)")
	out := c.String("out", "", "directory to write the certificate and key into (required)")
	name := c.String("name", "server", "base name of the files: NAME.pem, NAME-key.pem")
	if code, done := c.start(args, stdout, stderr, "ca", "names", "out", "name"); done {
		return code
	}
	serverNames := splitList(*names)
	if len(serverNames) == 0 {
		return c.fail(stderr, errors.New("--names has no name"))
	}
	ca, err := loadCA(*caDir)
	if err != nil {
		return c.fail(stderr, err)
	}
	issued, err := ca.IssueServer(serverNames...)
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := c.writeIssued(stdout, issued, *out, *name); err != nil {
		return c.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "  names:       %s\n", strings.Join(serverNames, ", "))
	return 0
}

func runCertsClient(args []string, stdout, stderr io.Writer) int {
	c := newCertsCommand("client", "gantry certs client --ca DIR --out DIR [--name client] [--cn CN] [--ou OU]... [--dns X]... [--uri U]... [--email E]... [--force]", certsClientAbout)
	caDir := c.String("ca", "", "directory of the CA's ca.pem and ca-key.pem (required)")
	out := c.String("out", "", "directory to write the certificate and key into (required)")
	name := c.String("name", "client", "base name of the files: NAME.pem, NAME-key.pem")
	cn := c.String("cn", "", "subject common name (default --name; \"\" for none)")
	var ous, dns, uris, emails stringList
	c.Var(&ous, "ou", "subject organizational unit (repeatable)")
	c.Var(&dns, "dns", "DNS subject alternative name (repeatable)")
	c.Var(&uris, "uri", "URI subject alternative name, such as spiffe://example.org/billing (repeatable)")
	c.Var(&emails, "email", "email subject alternative name (repeatable)")
	if code, done := c.start(args, stdout, stderr, "ca", "out", "name"); done {
		return code
	}
	opts := certs.ClientOptions{CommonName: *name, OrganizationalUnits: ous, DNSNames: dns, EmailAddresses: emails}
	c.Visit(func(f *flag.Flag) {
		if f.Name == "cn" {
			opts.CommonName = *cn
		}
	})
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			return c.fail(stderr, fmt.Errorf("--uri: %w", err))
		}
		if u.Scheme == "" {
			return c.fail(stderr, fmt.Errorf("--uri %q: not an absolute URI (such as spiffe://example.org/billing)", s))
		}
		opts.URIs = append(opts.URIs, u)
	}
	ca, err := loadCA(*caDir)
	if err != nil {
		return c.fail(stderr, err)
	}
	issued, err := ca.IssueClientWith(opts)
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := c.writeIssued(stdout, issued, *out, *name); err != nil {
		return c.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "  subject:     %s\n", issued.Cert.Subject)
	var sans []string
	for _, n := range issued.Cert.DNSNames {
		sans = append(sans, "DNS:"+n)
	}
	for _, u := range issued.Cert.URIs {
		sans = append(sans, "URI:"+u.String())
	}
	for _, e := range issued.Cert.EmailAddresses {
		sans = append(sans, "email:"+e)
	}
	if len(sans) > 0 {
		fmt.Fprintf(stdout, "  SANs:        %s\n", strings.Join(sans, ", "))
	}
	return 0
}

// writeIssued writes NAME.pem and NAME-key.pem into dir, unless they exist
// and --force is not given, and prints what it wrote.
func (c *certsCommand) writeIssued(stdout io.Writer, issued *certs.Issued, dir, name string) error {
	if strings.ContainsRune(name, os.PathSeparator) {
		return fmt.Errorf("--name %q: a file name, not a path (the directory is --out)", name)
	}
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := c.free(certFile, keyFile); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := issued.WriteFiles(certFile, keyFile); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s certificate (not for production):\n", strings.TrimPrefix(c.Name(), "certs "))
	fmt.Fprintf(stdout, "  certificate: %s\n", certFile)
	fmt.Fprintf(stdout, "  key:         %s\n", keyFile)
	fmt.Fprintf(stdout, "  serial:      %s\n", serialText(issued.Cert.SerialNumber))
	fmt.Fprintf(stdout, "  expires:     %s\n", issued.Cert.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func runCertsCRL(args []string, stdout, stderr io.Writer) int {
	c := newCertsCommand("crl", "gantry certs crl --ca DIR --out FILE [--revoke SERIAL[,SERIAL]] [--revoke-cert FILE]... [--next-update 168h] [--force]", certsCRLAbout)
	caDir := c.String("ca", "", "directory of the CA's ca.pem and ca-key.pem (required)")
	revoke := c.String("revoke", "", "comma-separated serial numbers to revoke")
	var revokeCerts stringList
	c.Var(&revokeCerts, "revoke-cert", "a PEM certificate file whose serial number to revoke (repeatable)")
	out := c.String("out", "", "file to write the CRL into, PEM (required)")
	next := c.Duration("next-update", 7*24*time.Hour, "how long until the CRL is due for renewal")
	if code, done := c.start(args, stdout, stderr, "ca", "out"); done {
		return code
	}
	if *next <= 0 {
		return c.fail(stderr, errors.New("--next-update must be positive"))
	}
	var serials []*big.Int
	for _, s := range splitList(*revoke) {
		n, err := parseSerial(s)
		if err != nil {
			return c.fail(stderr, fmt.Errorf("--revoke: %w", err))
		}
		serials = append(serials, n)
	}
	if c.Lookup("revoke").Value.String() != "" && len(serials) == 0 {
		return c.fail(stderr, errors.New("--revoke has no serial number"))
	}
	if err := c.free(*out); err != nil {
		return c.fail(stderr, err)
	}
	ca, err := loadCA(*caDir)
	if err != nil {
		return c.fail(stderr, err)
	}
	for _, file := range revokeCerts {
		cert, err := readCertFile(file)
		if err != nil {
			return c.fail(stderr, fmt.Errorf("--revoke-cert: %w", err))
		}
		if cert.CheckSignatureFrom(ca.Certificate()) != nil {
			return c.fail(stderr, fmt.Errorf("--revoke-cert %s: %q was not issued by this CA (%q), so its CRL cannot revoke it", file, cert.Subject.CommonName, ca.Certificate().Subject.CommonName))
		}
		serials = append(serials, cert.SerialNumber)
	}
	nextUpdate := time.Now().Add(*next)
	crl, err := ca.CRL(serials, nextUpdate)
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := writeCRL(*out, crl); err != nil {
		return c.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "wrote CRL of %q: %s\n", ca.Certificate().Subject.CommonName, *out)
	fmt.Fprintf(stdout, "  next update: %s\n", nextUpdate.UTC().Format(time.RFC3339))
	for _, s := range serials {
		fmt.Fprintf(stdout, "  revoked:     %s\n", serialText(s))
	}
	if len(serials) == 0 {
		fmt.Fprintf(stdout, "  revoked:     none (a list to name in client_auth.crls before anything is revoked)\n")
	}
	return 0
}

// readCertFile reads the first certificate of a PEM file.
func readCertFile(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	certs, err := gantrytls.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return certs[0], nil
}

// writeCRL replaces path with data, mode 0644 (a CRL is public), by a
// rename: a listener watching the file reads the old list or the new one,
// never half of one.
func writeCRL(path string, data []byte) error {
	return certs.WriteFileAtomic(path, data, 0o644) // #nosec G302 -- a CRL is public, signed data that verifiers must read
}
