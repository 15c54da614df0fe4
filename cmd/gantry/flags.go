package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// subFlags is a subcommand's flag set with a help text that says what the
// command does, not only which flags it has.
type subFlags struct {
	*flag.FlagSet
	usage string // "gantry NAME [flags]" line(s)
	about string // what the command does, for --help
}

func newFlags(name, usage, about string) *subFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &subFlags{FlagSet: fs, usage: usage, about: about}
}

func (f *subFlags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", f.usage, strings.TrimSpace(f.about))
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// parse parses args. When it returns done, the command should exit with
// code: 0 after --help (printed to stdout, since it was asked for), 2 after
// a usage error (printed to stderr).
func (f *subFlags) parse(args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := f.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.printHelp(stdout)
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "gantry %s: %v\n\n", f.Name(), err)
		f.printHelp(stderr)
		return 2, true
	}
	return 0, false
}

// noArgs refuses positional arguments where a command takes none, so a
// forgotten "-c" in `gantry check FILE` is an error rather than ignored.
func (f *subFlags) noArgs(stderr io.Writer) (code int, done bool) {
	if f.NArg() == 0 {
		return 0, false
	}
	fmt.Fprintf(stderr, "gantry %s: unexpected argument %q\n\n", f.Name(), f.Arg(0))
	f.printHelp(stderr)
	return 2, true
}
