package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = `usage:
  gantry bench [flags]                          measure every compiled-in backend
  gantry bench merge [--out DIR] A.json B.json  merge reports of several binaries

The server side runs pinned to --server-cpus, the load side (Go crypto/tls
client, wrk, h2load) and the origin to --load-cpus; --cpus 1,2 sweeps the
subject over 1 and 2 CPUs instead. Writes results.json, table.md, chart.svg,
chart.png (when rsvg-convert is installed) and report.html into --out and
prints the table.

flags:
`

// Main is `gantry bench`. It returns the process exit code: 0 for success,
// 1 for failure, 2 for a usage error. Cancelling ctx stops a run early; what
// was measured by then is still written.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		var err error
		switch args[0] {
		case "merge":
			err = mergeMain(args[1:], stdout, stderr)
		case "server":
			err = serverMain(args[1:])
		case "load":
			err = loadMain(args[1:])
		case "origin":
			err = originMain(args[1:])
		default:
			return runMain(ctx, args, stdout, stderr)
		}
		return exitCode(err, stderr)
	}
	return runMain(ctx, args, stdout, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(stderr, "gantry bench: %v\n", err)
		return 1
	}
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opt := DefaultOptions()
	fs := flag.NewFlagSet("gantry bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.IntVar(&opt.Runs, "runs", opt.Runs, "repetitions; every figure is their median with min and max")
	backends := fs.String("backends", "", "comma-separated backends to measure (default: all compiled in)")
	compare := fs.String("compare", "", "comma-separated proxies to add to the proxied rows: nginx, haproxy")
	only := fs.String("only", "", "comma-separated workloads: handshake, bulk, idle, http (default: all)")
	fs.StringVar(&opt.Out, "out", opt.Out, "output directory")
	fs.DurationVar(&opt.HandshakeDur, "hs-dur", opt.HandshakeDur, "window of each handshake test")
	fs.DurationVar(&opt.BulkDur, "bulk-dur", opt.BulkDur, "window of the bulk test")
	fs.DurationVar(&opt.HTTPDur, "http-dur", opt.HTTPDur, "duration of each wrk and h2load run (whole seconds)")
	fs.IntVar(&opt.HSConns, "hs-conns", opt.HSConns, "concurrent handshake workers")
	fs.IntVar(&opt.IdleConns, "idle-conns", opt.IdleConns, "idle connections for the memory test")
	fs.StringVar(&opt.ServerCPUs, "server-cpus", opt.ServerCPUs, "CPUs for the server or proxy under test (taskset list)")
	fs.StringVar(&opt.LoadCPUs, "load-cpus", opt.LoadCPUs, "CPUs for the load generators and the origin (taskset list)")
	cpus := fs.String("cpus", "", "sweep the CPUs the server/proxy/client under test gets, e.g. 1,2: N < all CPUs puts it on 0..N-1 and the load on the rest, N = all shares them (overrides --server-cpus and --load-cpus)")
	quick := fs.Bool("quick", false, "smoke test: 1 run, short windows, 1000 idle connections")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gantry bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *quick {
		// --quick shortens what the user did not set explicitly.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickly := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quickly("runs", func() { opt.Runs = 1 })
		quickly("hs-dur", func() { opt.HandshakeDur = 500 * time.Millisecond })
		quickly("bulk-dur", func() { opt.BulkDur = 500 * time.Millisecond })
		quickly("http-dur", func() { opt.HTTPDur = time.Second })
		quickly("idle-conns", func() { opt.IdleConns = 1000 })
	}
	for _, c := range splitList(*cpus) {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "gantry bench: --cpus wants CPU counts such as 1,2, not %q\n", c)
			return 2
		}
		opt.CPUCounts = append(opt.CPUCounts, n)
	}
	opt.Backends = splitList(*backends)
	opt.Compare = splitList(*compare)
	opt.Only = splitList(*only)
	for _, c := range opt.Compare {
		if c != "nginx" && c != "haproxy" {
			fmt.Fprintf(stderr, "gantry bench: --compare knows nginx and haproxy, not %q\n", c)
			return 2
		}
	}
	for _, w := range opt.Only {
		switch w {
		case WorkHandshake, WorkBulk, WorkIdle, WorkHTTP:
		default:
			fmt.Fprintf(stderr, "gantry bench: --only knows handshake, bulk, idle and http, not %q\n", w)
			return 2
		}
	}
	opt.Progress = stderr

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, err := Run(ctx, opt)
	if rep == nil {
		return exitCode(err, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gantry bench: stopped early: %v; writing what was measured\n", err)
	}
	rep.Settings["elapsed"] = time.Since(start).Round(time.Second).String()
	table, werr := WriteOutputs(rep, opt.Out)
	if werr != nil {
		return exitCode(werr, stderr)
	}
	fmt.Fprint(stdout, table)
	fmt.Fprintf(stderr, "gantry bench: wrote %s, %s and %s (%s)\n",
		filepath.Join(opt.Out, "results.json"), filepath.Join(opt.Out, "table.md"), filepath.Join(opt.Out, "chart.svg"),
		time.Since(start).Round(time.Second))
	if err != nil {
		return 1
	}
	return 0
}

// mergeMain is `gantry bench merge`; flags may come before or after the
// report files.
func mergeMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gantry bench merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "bench-out", "output directory")
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) == 0 {
		return errors.New("merge needs at least one results.json")
	}
	var reps []*Report
	for _, f := range files {
		r, err := ReadJSON(f)
		if err != nil {
			return err
		}
		reps = append(reps, r)
	}
	merged, err := Merge(reps...)
	if err != nil {
		return err
	}
	table, err := WriteOutputs(merged, *out)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, table)
	fmt.Fprintf(stderr, "gantry bench merge: wrote %s, %s and %s\n",
		filepath.Join(*out, "results.json"), filepath.Join(*out, "table.md"), filepath.Join(*out, "chart.svg"))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
