package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func init() {
	register(command{Name: "version", Summary: "print the Gantry and Go versions", Run: runVersion})
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("version", "gantry version",
		"Prints the Gantry version, the Go toolchain it was built with, and the TLS\nbackends compiled in (see 'gantry backends' for their details).")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	fmt.Fprintf(stdout, "gantry %s (%s, %s/%s; backends: %s)\n",
		version, runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(gantrytls.Names(), ", "))
	return 0
}
