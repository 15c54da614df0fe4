package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"text/template"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/internal/demo"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

//go:embed default.yaml
var defaultConfig string

// defaultListen is where the embedded default config listens.
const defaultListen = "127.0.0.1:8443"

func init() {
	register(command{Name: "serve", Summary: "run the proxy (serve [-c FILE]; no file: a demo on https://localhost:8443)", Run: runServe})
}

const serveAbout = `Runs the proxy until SIGINT or SIGTERM, then shuts down gracefully within
server.timeouts.shutdown_grace and exits 0.

With -c FILE it serves that config (validate it first with 'gantry check -c FILE').
Operational logs go to stderr, the access log to stdout.

With no -c it runs the embedded default config (print it with --print-default):
TLS on 127.0.0.1:8443 with a development certificate made at start, proxying to
a built-in demo origin, and prints the curl command to try, e.g.
  curl --cacert /tmp/gantry-dev-XXXX/ca.pem https://localhost:8443/
--listen and --backend change the default config only.

If metrics.address is set, Prometheus metrics are served on
http://ADDRESS/metrics (and nothing else there) until the proxy stops.

If server.user / server.group are set, privileges are dropped to them right
after the listeners (and the metrics address) are bound.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("serve", "gantry serve [-c FILE] [--listen ADDR] [--backend NAME]", serveAbout)
	file := f.String("c", "", "config file; without it the embedded demo config runs")
	listen := f.String("listen", defaultListen, "address of the default config's listener (host:port; port 0 picks a free one)")
	backend := f.String("backend", gantrytls.DefaultBackend, "TLS backend of the default config's listener (see 'gantry backends')")
	printDefault := f.Bool("print-default", false, "print the embedded default config template and exit")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	if *printDefault {
		fmt.Fprint(stdout, defaultConfig)
		return 0
	}
	if *file != "" {
		explicit := false
		f.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "listen" || fl.Name == "backend" })
		if explicit {
			fmt.Fprint(stderr, "gantry serve: --listen and --backend apply to the default config only; set them in the file given with -c\n")
			return 2
		}
	}

	var (
		c   *config.Config
		err error
		dev *demoSetup
	)
	// Started by an upgrade: the old process's sockets arrive first.
	from, err := inheritedHandOff()
	if err != nil {
		from.fail(err)
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *file != "" {
		if abs, aerr := filepath.Abs(*file); aerr == nil {
			*file = abs // an upgrade starts the new binary elsewhere, maybe
		}
		c, err = config.Load(*file)
	} else {
		dev, err = startDemo(*listen, *backend)
		if dev != nil {
			defer dev.close(stderr)
			c = dev.config
		}
	}
	if err != nil {
		from.fail(err)
		fmt.Fprintln(stderr, err)
		return 1
	}
	var ready func([]net.Addr)
	if dev != nil {
		ready = func(addrs []net.Addr) {
			fmt.Fprintf(stdout, "serving the embedded default config: demo origin on http://%s, development certificates in %s\n", dev.origin.Addr(), dev.dir)
			fmt.Fprintf(stdout, "try:\n  %s\n", curlLine(dev.files.CA, addrs[0]))
		}
	}
	return runConfig(ctx, "gantry serve", c, *file, from, stdout, stderr, ready)
}

// curlLine is the command that fetches / through the listener at addr,
// trusting only the development CA.
func curlLine(caFile string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "curl --cacert " + caFile + " https://" + addr.String() + "/"
	}
	// The development certificate names localhost, 127.0.0.1 and ::1;
	// "localhost" reads best and exercises SNI.
	switch host {
	case "127.0.0.1", "::1", "", "0.0.0.0", "::":
		host = "localhost"
	}
	return fmt.Sprintf("curl --cacert %s https://%s/", caFile, net.JoinHostPort(host, port))
}

// demoSetup is what the embedded default config runs on: development
// certificates in a temporary directory and the demo origin.
type demoSetup struct {
	dir    string
	files  *certs.DevFiles
	origin *demo.Origin
	config *config.Config
}

var backendName = regexp.MustCompile(`^[a-z0-9]+$`)

func startDemo(listen, backend string) (*demoSetup, error) {
	if !backendName.MatchString(backend) {
		return nil, fmt.Errorf("gantry serve: invalid backend name %q", backend)
	}
	dir, err := os.MkdirTemp("", "gantry-dev-")
	if err != nil {
		return nil, fmt.Errorf("gantry serve: %w", err)
	}
	d := &demoSetup{dir: dir}
	if d.files, err = certs.WriteDevFiles(dir, nil, "", true); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if d.origin, err = demo.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	text, err := renderDefault(listen, backend, d.origin.Addr())
	if err == nil {
		d.config, err = config.Parse("default.yaml (embedded)", dir, text)
	}
	if err != nil {
		d.close(io.Discard)
		return nil, err
	}
	return d, nil
}

func (d *demoSetup) close(stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.origin.Close(ctx); err != nil {
		fmt.Fprintf(stderr, "gantry serve: %v\n", err)
	}
	_ = os.RemoveAll(d.dir)
}

// renderDefault fills the default config template. Values are quoted as
// JSON strings, which YAML reads as double-quoted scalars, so no flag value
// can change the structure of the config.
func renderDefault(listen, backend, origin string) ([]byte, error) {
	q := func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	}
	tmpl, err := template.New("default.yaml").Funcs(template.FuncMap{"q": q}).Option("missingkey=error").Parse(defaultConfig)
	if err != nil {
		return nil, fmt.Errorf("gantry serve: default config template: %w", err)
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]string{"Listen": listen, "Backend": backend, "Origin": origin})
	if err != nil {
		return nil, fmt.Errorf("gantry serve: default config template: %w", err)
	}
	return buf.Bytes(), nil
}
