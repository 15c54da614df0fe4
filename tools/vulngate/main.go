package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	code, err := run(os.Args[1:], os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// message is one object of govulncheck's JSON stream; only the parts the
// gate needs are decoded.
type message struct {
	Config *struct {
		DB            string `json:"db"`
		DBLastMod     string `json:"db_last_modified"`
		GoVersion     string `json:"go_version"`
		ScannerVerson string `json:"scanner_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

// key identifies a vulnerability in one module.
type key struct{ id, module string }

type result struct {
	fixed   string
	version string
	symbol  string // the vulnerable function reached, "" when not called
}

func run(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("vulngate", flag.ContinueOnError)
	acceptFile := fs.String("accept", "", "file of accepted findings: one `GO-ID module reason…` per line")
	label := fs.String("label", "", "what was scanned, for the report")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	accepted := map[key]string{}
	if *acceptFile != "" {
		var err error
		if accepted, err = readAccept(*acceptFile); err != nil {
			return 0, err
		}
	}

	summaries := map[string]string{}
	results := map[key]*result{}
	sawConfig := false
	dec := json.NewDecoder(stdin)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			sawConfig = true
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			top := f.Trace[0]
			k := key{f.OSV, top.Module}
			r := results[k]
			if r == nil {
				r = &result{fixed: f.FixedVersion, version: top.Version}
				results[k] = r
			}
			if top.Function != "" && r.symbol == "" {
				r.symbol = symbolName(top)
			}
		}
	}
	// An empty or truncated stream must not read as "no vulnerabilities".
	if !sawConfig {
		return 0, errors.New("govulncheck output has no config message: the scan did not run")
	}

	keys := make([]key, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].module < keys[j].module
	})

	failed, accCount, unreached := 0, 0, 0
	for _, k := range keys {
		r := results[k]
		where := fmt.Sprintf("%s %s@%s (fixed in %s): %s", k.id, k.module, r.version, orNone(r.fixed), summaries[k.id])
		// The reasons are in the accept file; repeating them for every
		// build would bury the failures.
		switch _, ok := accepted[k]; {
		case r.symbol == "":
			unreached++
		case ok:
			accCount++
			fmt.Fprintf(stdout, "vulngate: %s ACCEPTED reachable %s (via %s)\n", *label, where, r.symbol)
		default:
			failed++
			fmt.Fprintf(stdout, "vulngate: %s FAIL reachable %s\n    via %s\n", *label, where, r.symbol)
		}
	}
	fmt.Fprintf(stdout, "vulngate: %s: %d reachable and not accepted, %d accepted, %d present but not called\n",
		*label, failed, accCount, unreached)
	if accCount > 0 {
		fmt.Fprintf(stdout, "vulngate: the reason for each acceptance is in %s\n", *acceptFile)
	}
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}

func symbolName(f frame) string {
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	return f.Package + "." + name
}

func orNone(s string) string {
	if s == "" {
		return "no release"
	}
	return s
}

var acceptRE = regexp.MustCompile(`^(GO-[0-9]{4}-[0-9]{4,})\s+(\S+)\s+(\S.*)$`)

// readAccept reads lines of "GO-ID module reason"; '#' starts a comment.
// A line without a reason is an error: every acceptance must say why.
func readAccept(path string) (map[key]string, error) {
	f, err := os.Open(path) // #nosec G304 -- the accept file is named by the Makefile, not by input.
	if err != nil {
		return nil, fmt.Errorf("open accept file: %w", err)
	}
	defer f.Close()
	out := map[key]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := acceptRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s:%d: want `GO-YYYY-NNNN module reason…`, got %q", path, n, line)
		}
		out[key{m[1], m[2]}] = m[3]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
