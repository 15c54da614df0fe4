package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/proxy"
)

func init() {
	register(command{Name: "check", Summary: "validate a config file without serving (check -c FILE)", Run: runCheck})
}

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("check", "gantry check -c FILE",
		`Validates a config file the way 'gantry serve' would, without binding any
socket: unknown keys, bad durations, missing certificate/key/CA files, backends
this binary lacks, unknown policies, routes to undefined upstreams and the like
are reported as FILE:LINE: KEY: problem. So is a private key file readable by
group or others or owned by another user: an error, or a warning on stderr
under server.key_permissions: warn. Prints "ok: N listeners, M routes" and
exits 0 when the file is valid; prints every problem found and exits 1 otherwise.`)
	file := f.String("c", "", "config file to check (required)")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	if *file == "" {
		fmt.Fprint(stderr, "gantry check: -c FILE is required\n\n")
		f.printHelp(stderr)
		return 2
	}
	c, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range c.Warnings() {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	// The proxy compiles every TLS config with its backend: what the config
	// package cannot know (a backend refusing a setting) fails here too.
	p, err := proxy.New(c.Options(nil, nil))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *file, err)
		return 1
	}
	_ = p.Close()
	fmt.Fprintf(stdout, "ok: %s, %s\n", plural(len(c.Listeners), "listener"), plural(len(c.Routes), "route"))
	return 0
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
