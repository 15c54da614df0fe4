package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	gantrytls "github.com/gantry-proxy/gantry/tls"
	// gostd is in every build; the other backends come in with their build
	// tags (backends_openssl.go, backends_boring.go).
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

func init() {
	register(command{Name: "backends", Summary: "list the TLS backends compiled into this binary", Run: runBackends})
}

func runBackends(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("backends", "gantry backends",
		`Lists the TLS backends compiled into this binary with their library versions,
the protocol versions, key-exchange groups and cipher suites each can negotiate,
and whether its servers decrypt Encrypted ClientHello (tls.ech.keys).
A config may name only these backends. gostd (Go's crypto/tls) is always present;
build with -tags openssl or -tags boringssl to add one of the C libraries.`)
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	for i, b := range gantrytls.Backends() {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		caps := b.Capabilities()
		fmt.Fprintf(stdout, "%s\n", b.Name())
		fmt.Fprintf(stdout, "  library:  %s\n", b.Library())
		fmt.Fprintf(stdout, "  versions: %s\n", strings.Join(versionNames(caps.Versions), ", "))
		groups := make([]string, len(caps.Groups))
		for i, g := range caps.Groups {
			groups[i] = string(g)
		}
		fmt.Fprintf(stdout, "  groups:   %s\n", strings.Join(groups, ", "))
		ech := "none"
		if caps.ServerECH {
			ech = "server (Encrypted ClientHello, tls.ech.keys)"
		}
		fmt.Fprintf(stdout, "  ech:      %s\n", ech)
		fmt.Fprintf(stdout, "  suites:   %s\n", strings.Join(suiteNames(caps.CipherSuites), "\n            "))
	}
	return 0
}

func versionNames(vs []uint16) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		switch v {
		case gantrytls.VersionTLS12:
			out[i] = "TLS 1.2"
		case gantrytls.VersionTLS13:
			out[i] = "TLS 1.3"
		default:
			out[i] = fmt.Sprintf("0x%04x", v)
		}
	}
	return out
}

func suiteNames(ids []uint16) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if s, ok := gantrytls.SuiteByID(id); ok {
			out[i] = s.Name
		} else {
			out[i] = fmt.Sprintf("0x%04x", id)
		}
	}
	return out
}
