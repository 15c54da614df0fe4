package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gantry-proxy/gantry/certs"
)

func init() {
	register(command{Name: "certs", Summary: "make development certificates and ECH keys (certs dev|ca|server|client|crl|ech)", Run: runCerts})
}

const certsAbout = `Makes a development CA and certificates signed by it, for demos and mTLS
tutorials. They are for development only, never for production: the CA key is
not kept, so nothing it issued can be revoked.

'gantry certs dev --out DIR' writes into DIR (created with mode 0700):
  ca.pem                          the CA to trust (curl --cacert DIR/ca.pem)
  server.pem, server-key.pem      a server certificate for --names
  client.pem, client-key.pem      a client certificate for --client-cn (mTLS)
Keys are written with mode 0600. Existing files are kept unless --force.`

const certsUsage = `gantry certs dev --out DIR [--names a,b] [--client-cn CN] [--force]
       gantry certs ca --out DIR [--cn NAME] [--force]
       gantry certs server --ca DIR --names a,b[,IP] --out DIR [--name server] [--force]
       gantry certs client --ca DIR --out DIR [--name client] [--cn CN] [--ou OU]... [--dns X]... [--uri U]... [--email E]... [--force]
       gantry certs crl --ca DIR --out FILE [--revoke SERIAL[,SERIAL]] [--revoke-cert FILE]... [--next-update 168h] [--force]
       ` + certsECHUsage

const certsAboutMore = `

For an mTLS walkthrough with a CA that lasts across runs, so that what it
issued can be revoked:
  ca      a CA: ca.pem and ca-key.pem (mode 0600) in DIR
  server  a server certificate signed by the CA in --ca DIR
  client  a client certificate signed by it, with the identity to match on
  crl     a CRL signed by it revoking serial numbers (client_auth.crls)
  ech     an Encrypted ClientHello key for tls.ech.keys, and the DNS record
          that publishes it (for production too)
Each prints the files written and the serial number to revoke. Run
'gantry certs SUBCOMMAND --help' for its flags and an example.`

var certsSubcommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"ca":     runCertsCA,
	"server": runCertsServer,
	"client": runCertsClient,
	"crl":    runCertsCRL,
	"ech":    runCertsECH,
}

func runCerts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && certsSubcommands[args[0]] != nil {
		return certsSubcommands[args[0]](args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "dev" {
		f := newFlags("certs", certsUsage, certsAbout+certsAboutMore)
		if code, done := f.parse(args, stdout, stderr); done {
			return code
		}
		if len(args) == 0 {
			fmt.Fprint(stderr, "gantry certs: missing subcommand: dev, ca, server, client, crl or ech\n\n")
		} else {
			fmt.Fprintf(stderr, "gantry certs: unknown subcommand %q (want dev, ca, server, client, crl or ech)\n\n", args[0])
		}
		f.printHelp(stderr)
		return 2
	}
	f := newFlags("certs dev", "gantry certs dev --out DIR [--names a,b] [--client-cn CN] [--force]", certsAbout)
	out := f.String("out", "", "directory to write the files into (required)")
	names := f.String("names", strings.Join(certs.DefaultServerNames, ","), "comma-separated DNS names and IP addresses for the server certificate")
	cn := f.String("client-cn", "gantry-dev-client", "common name of the client certificate")
	force := f.Bool("force", false, "replace existing files")
	if code, done := f.parse(args[1:], stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	if *out == "" {
		fmt.Fprint(stderr, "gantry certs dev: --out DIR is required\n\n")
		f.printHelp(stderr)
		return 2
	}
	var serverNames []string
	for _, n := range strings.Split(*names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			serverNames = append(serverNames, n)
		}
	}
	files, err := certs.WriteDevFiles(*out, serverNames, *cn, *force)
	if err != nil {
		fmt.Fprintf(stderr, "gantry certs dev: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote development certificates (not for production) to %s:\n", files.Dir)
	fmt.Fprintf(stdout, "  CA:     %s\n", files.CA)
	fmt.Fprintf(stdout, "  server: %s, %s (for %s)\n", files.ServerCert, files.ServerKey, strings.Join(files.ServerNames, ", "))
	fmt.Fprintf(stdout, "  client: %s, %s (CN=%s)\n", files.ClientCert, files.ClientKey, files.ClientCommonName)
	return 0
}
