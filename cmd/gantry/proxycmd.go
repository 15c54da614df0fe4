package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/config"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

//go:embed proxy.yaml
var proxyTemplate string

func init() {
	register(command{Name: "proxy", Summary: "TLS in front of one app, no config file (proxy --from ADDR --to URL)", Run: runProxy})
}

const proxyAbout = `Terminates TLS on --from and proxies every request to --to, with no config
file: the flags become a config (see it with --print-config) that goes through
the same parsing, defaults and checks as 'gantry serve -c FILE', and is served
by the same proxy. Runs until SIGINT or SIGTERM.

Without --cert/--key it makes a development certificate at start (for
localhost, 127.0.0.1, ::1 and the --from host), removed at exit, and prints
the curl command that trusts it. With --mtls CA every client must present a
certificate issued by CA (client_auth require-and-verify); others are refused
during the handshake.

--to is http://HOST[:PORT] (plain HTTP/1.1 to the app) or https://HOST[:PORT]
(TLS to the app, its certificate verified against the system roots, or
--to-ca FILE, for HOST). The Host header the client sent is passed on.

Examples:
  gantry proxy --from 127.0.0.1:8443 --to http://127.0.0.1:3000
  gantry proxy --from :443 --to https://app.internal:8443 --to-ca internal-ca.pem \
      --cert site.pem --key site-key.pem --mtls clients-ca.pem --backend openssl`

// proxyFlags are the flags of `gantry proxy`, as given.
type proxyFlags struct {
	From, To, Backend string
	Cert, Key         string
	MTLS, ToCA        string
}

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("proxy", "gantry proxy --from ADDR --to URL [--cert FILE --key FILE] [--mtls CA] [--to-ca FILE] [--backend NAME]", proxyAbout)
	var pf proxyFlags
	f.StringVar(&pf.From, "from", defaultListen, "address to terminate TLS on (host:port; port 0 picks a free one)")
	f.StringVar(&pf.To, "to", "", "URL of the app to proxy to: http://HOST[:PORT] or https://HOST[:PORT] (required)")
	f.StringVar(&pf.Backend, "backend", gantrytls.DefaultBackend, "TLS backend on both sides (see 'gantry backends')")
	f.StringVar(&pf.Cert, "cert", "", "PEM certificate chain to serve (leaf first); with --key. Default: a development certificate")
	f.StringVar(&pf.Key, "key", "", "PEM private key of --cert")
	f.StringVar(&pf.MTLS, "mtls", "", "PEM file of the CAs client certificates must chain to; clients without one are refused")
	f.StringVar(&pf.ToCA, "to-ca", "", "PEM file of the CAs an https --to must chain to (default: the system roots)")
	printConfig := f.Bool("print-config", false, "print the config the flags make and exit (after checking it)")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	if err := pf.check(); err != nil {
		fmt.Fprintf(stderr, "gantry proxy: %v\n\n", err)
		f.printHelp(stderr)
		return 2
	}

	setup, err := pf.prepare()
	if err != nil {
		fmt.Fprintf(stderr, "gantry proxy: %v\n", err)
		return 1
	}
	defer setup.close()
	if *printConfig {
		_, _ = stdout.Write(setup.text)
		return 0
	}
	return runConfig(ctx, "gantry proxy", setup.config, "", nil, stdout, stderr, func(addrs []net.Addr) {
		fmt.Fprintf(stdout, "proxying https://%s to %s\n", addrs[0], pf.To)
		fmt.Fprintf(stdout, "try:\n  %s\n", setup.curl(addrs[0]))
	})
}

// check refuses flag combinations that no config could express, with the
// flag names in the message; everything else is left to config.Parse so
// that the messages and rules are the config's own.
func (pf *proxyFlags) check() error {
	if pf.To == "" {
		return errors.New("--to URL is required")
	}
	if (pf.Cert == "") != (pf.Key == "") {
		return errors.New("--cert and --key go together")
	}
	if _, _, err := parseTo(pf.To); err != nil {
		return err
	}
	if pf.ToCA != "" && !strings.HasPrefix(pf.To, "https://") {
		return errors.New("--to-ca applies to an https --to only")
	}
	return nil
}

// parseTo splits --to into the upstream address and whether it speaks TLS.
// A path, query or credentials are refused rather than dropped: the proxy
// forwards the client's path as it is and does not rewrite it.
func parseTo(raw string) (addr string, useTLS bool, err error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.Contains(raw, "://") {
		return "", false, fmt.Errorf("--to %q: want http://HOST[:PORT] or https://HOST[:PORT]", raw)
	}
	port := "80"
	switch u.Scheme {
	case "http":
	case "https":
		useTLS, port = true, "443"
	default:
		return "", false, fmt.Errorf("--to %q: want http://HOST[:PORT] or https://HOST[:PORT]", raw)
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("--to %q: no host", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false, fmt.Errorf("--to %q: only scheme, host and port are allowed (requests keep their own path)", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false, fmt.Errorf("--to %q: bad port", raw)
		}
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), useTLS, nil
}

// proxySetup is a config built from the flags with what it depends on.
type proxySetup struct {
	text   []byte
	config *config.Config
	dev    *certs.DevFiles // nil with --cert/--key
	dir    string          // the development certificates' directory, removed by close
}

// prepare makes the development certificate if needed, renders the config
// text and parses it. Files the user named are made absolute, so the
// printed config means the same wherever it is later served from.
func (pf *proxyFlags) prepare() (*proxySetup, error) {
	addr, useTLS, _ := parseTo(pf.To)
	vals := map[string]any{
		"From": pf.From, "Backend": pf.Backend, "ToAddr": addr, "ToTLS": useTLS,
		"FromComment": oneLine(pf.From), "ToComment": oneLine(pf.To),
		"DevCert": pf.Cert == "", "Cert": "server.pem", "Key": "server-key.pem",
		"ClientCA": "", "ToCA": "",
	}
	for key, name := range map[string]string{"Cert": pf.Cert, "Key": pf.Key, "ClientCA": pf.MTLS, "ToCA": pf.ToCA} {
		if name == "" {
			continue
		}
		abs, err := filepath.Abs(name)
		if err != nil {
			return nil, err
		}
		vals[key] = abs
	}

	s := &proxySetup{}
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if pf.Cert == "" {
		if s.dir, err = os.MkdirTemp("", "gantry-dev-"); err != nil {
			return nil, err
		}
		dir = s.dir
		if s.dev, err = certs.WriteDevFiles(s.dir, devNames(pf.From), "", true); err != nil {
			s.close()
			return nil, err
		}
	}
	if s.text, err = renderTemplate("proxy.yaml", proxyTemplate, vals); err == nil {
		s.config, err = config.Parse("gantry proxy flags (--print-config shows them as YAML)", dir, s.text)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *proxySetup) close() {
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// curl is the command line to try the proxy with: trusting the development
// CA when there is one, with placeholders for the client certificate when
// one is required.
func (s *proxySetup) curl(addr net.Addr) string {
	var b strings.Builder
	b.WriteString("curl")
	if s.dev != nil {
		b.WriteString(" --cacert " + s.dev.CA)
	}
	if s.config.Listeners[0].TLS.Files.ClientAuth.CA != "" {
		b.WriteString(" --cert CLIENT.pem --key CLIENT-KEY.pem")
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return b.String() + " https://" + addr.String() + "/"
	}
	switch host {
	case "127.0.0.1", "::1", "", "0.0.0.0", "::":
		host = "localhost"
	}
	return b.String() + " https://" + net.JoinHostPort(host, port) + "/"
}

// devNames are the names of the development certificate: the defaults
// (what curl on this machine uses) and the --from host when it is a
// specific one, so `--from myhost:8443` is trusted as myhost.
func devNames(from string) []string {
	names := append([]string(nil), certs.DefaultServerNames...)
	host, _, err := net.SplitHostPort(from)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return names
	}
	for _, n := range names {
		if n == host {
			return names
		}
	}
	return append(names, host)
}

// oneLine makes a flag value safe inside a YAML comment.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// renderTemplate fills a config template. Values are quoted as JSON strings
// (q), which YAML reads as double-quoted scalars, so no flag value can
// change the structure of the config.
func renderTemplate(name, text string, vals any) ([]byte, error) {
	tmpl, err := template.New(name).Funcs(template.FuncMap{"q": jsonQuote}).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s template: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, vals); err != nil {
		return nil, fmt.Errorf("%s template: %w", name, err)
	}
	return buf.Bytes(), nil
}

func jsonQuote(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}
