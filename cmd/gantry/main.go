// Command gantry is the Gantry reverse proxy: `gantry serve`, `gantry check`,
// `gantry backends`, `gantry certs` (dev, ca, server, client, crl),
// `gantry version`, and whatever other files in this package register.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. Other files add theirs from init with
// register, so adding a subcommand never means editing this file:
//
//	func init() {
//		register(command{Name: "bench", Summary: "...", Run: runBench})
//	}
type command struct {
	// Name is what the user types: `gantry NAME`.
	Name string
	// Summary is the one line `gantry help` shows.
	Summary string
	// Run gets the arguments after NAME and returns the exit status: 0 for
	// success, 1 for failure, 2 for a usage error. It writes results to
	// stdout and diagnostics to stderr, and stops when ctx is cancelled
	// (SIGINT, SIGTERM).
	Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.Name]; dup {
		panic("gantry: subcommand " + c.Name + " registered twice")
	}
	commands[c.Name] = c
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.Run(ctx, []string{"--help"}, stdout, stderr)
			}
		}
		usage(stdout)
		return 0
	case "-version", "--version":
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gantry: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.Run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Gantry is a TLS reverse proxy for HTTP/1.1 and HTTP/2 with pluggable TLS backends.

Usage: gantry COMMAND [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprint(w, `
Run 'gantry COMMAND --help' for a command's flags.
Start with 'gantry serve': with no config it serves a demo on https://localhost:8443
and prints a curl command to try.
`)
}
