package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// loadBoundPct is the load-CPU busy level above which a figure says more
// about the load generator than about the server (the anchors use the same
// threshold).
const loadBoundPct = 90

// noisyPct is the CPU other processes may use during a measurement (in %
// of one core) before its figure is flagged as disturbed.
const noisyPct = 15

// WriteTable renders the report as Markdown: figures, ratios to gostd and,
// for the proxied rows, ratios to nginx.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Median of %d runs (min–max). CPU split: %s.\n\n", r.Runs, r.CPUSplit)

	metrics := presentMetrics(r)
	b.WriteString("| metric | unit |")
	for _, s := range r.Subjects {
		fmt.Fprintf(&b, " %s |", s)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(r.Subjects)) + "\n")
	anyBound, anyNoisy := false, false
	for _, m := range metrics {
		fmt.Fprintf(&b, "| %s | %s |", m.Label, m.Unit)
		for _, s := range r.Subjects {
			c := r.Find(m.ID, s)
			switch {
			case c.Has():
				mark := ""
				if Median(c.LoadCPU) >= loadBoundPct {
					mark, anyBound = " †", true
				}
				if Median(c.ForeignCPU) > noisyPct {
					mark, anyNoisy = mark+" ‡", true
				}
				cpu := ""
				if len(c.CPUPerOp) > 0 {
					cpu = " · " + cpuPerOp(Median(c.CPUPerOp))
				}
				fmt.Fprintf(&b, " %s (%s–%s)%s%s |", num(c.Median), num(c.Min), num(c.Max), cpu, mark)
			case c != nil && len(c.Errors) > 0:
				b.WriteString(" n/a |")
			default:
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nAfter · : CPU time the subject (server, proxy, or the client in client rows) used per operation — connection, MB or request — median over runs.\n")
	if anyBound {
		fmt.Fprintf(&b, "\n† the load CPU was at least %d%% busy (median): the figure is a lower bound for the server side.\n", loadBoundPct)
	}

	if anyNoisy {
		fmt.Fprintf(&b, "\n‡ other processes used more than %d%% of a core during these measurements (median): the figure may be low.\n", noisyPct)
	}
	var foreign []float64
	for _, res := range r.Results {
		foreign = append(foreign, res.ForeignCPU...)
	}
	if len(foreign) > 0 {
		s, _ := Summarize(foreign)
		fmt.Fprintf(&b, "\nOther processes on the machine used a median of %.0f%% of a core during the measurements (max %.0f%%).\n", s.Median, s.Max)
	}

	writeRatios(&b, r, metrics, ReferenceSubject, "Ratio to "+ReferenceSubject, false)
	if slices.Contains(r.Subjects, CompareReference) {
		writeRatios(&b, r, metrics, CompareReference, "Ratio to "+CompareReference+" (proxied rows)", true)
	}

	if len(r.Backends) > 0 {
		b.WriteString("\nBackends:\n")
		for _, bk := range r.Backends {
			fmt.Fprintf(&b, "- %s: %s", bk.Name, bk.Library)
			if bk.Binary != "" {
				fmt.Fprintf(&b, " (%s)", bk.Binary)
			}
			b.WriteString("\n")
		}
	}
	if len(r.Settings) > 0 || r.Host != "" {
		b.WriteString("\nSetup:\n")
		if r.Host != "" {
			fmt.Fprintf(&b, "- host: %s; %s\n", r.Host, r.Go)
		}
		keys := make([]string, 0, len(r.Settings))
		for k := range r.Settings {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "- %s: %s\n", k, r.Settings[k])
		}
	}
	if missing := missingCells(r, metrics); len(missing) > 0 {
		b.WriteString("\nNot measured:\n")
		for _, m := range missing {
			fmt.Fprintf(&b, "- %s\n", m)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	return nil
}

func writeRatios(b *strings.Builder, r *Report, metrics []Metric, base, title string, proxiedOnly bool) {
	var cols []string
	for _, s := range r.Subjects {
		if s != base {
			cols = append(cols, s)
		}
	}
	if len(cols) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s (median over median; ↓ rows: below 1 is better, others: above 1 is better)\n\n| metric |", title)
	for _, s := range cols {
		fmt.Fprintf(b, " %s |", s)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(cols)) + "\n")
	for _, m := range metrics {
		if proxiedOnly && !m.Proxied {
			continue
		}
		ref := r.Find(m.ID, base)
		arrow := ""
		if m.LowerIsBetter {
			arrow = " ↓"
		}
		fmt.Fprintf(b, "| %s%s |", m.Label, arrow)
		for _, s := range cols {
			c := r.Find(m.ID, s)
			if !ref.Has() || !c.Has() || ref.Median == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(b, " %.2f |", c.Median/ref.Median)
		}
		b.WriteString("\n")
	}
}

// presentMetrics is the catalogue restricted to rows with any cell, each
// row followed by the same row on more CPUs when the report swept CPU
// counts, so the two read side by side.
func presentMetrics(r *Report) []Metric {
	counts := cpuCounts(r)
	sweep := len(counts) > 1
	var out []Metric
	for _, base := range Metrics {
		for _, n := range counts {
			m := base.at(n)
			if sweep && n == 1 {
				m.Label += " · 1 CPU"
			}
			for _, res := range r.Results {
				if res.Metric == m.ID {
					out = append(out, m)
					break
				}
			}
		}
	}
	return out
}

// cpuCounts are the CPU counts the report's rows were measured on, in
// increasing order.
func cpuCounts(r *Report) []int {
	var out []int
	for _, res := range r.Results {
		if _, n := splitCPUs(res.Metric); n >= 1 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		out = []int{1}
	}
	return out
}

// missingCells lists cells that have errors and no sample, with the reason.
func missingCells(r *Report, metrics []Metric) []string {
	var out []string
	for _, m := range metrics {
		for _, s := range r.Subjects {
			c := r.Find(m.ID, s)
			if c != nil && !c.Has() && len(c.Errors) > 0 {
				out = append(out, fmt.Sprintf("%s / %s: %s", m.Label, s, strings.Join(c.Errors, "; ")))
			}
		}
	}
	return out
}

// cpuPerOp prints microseconds of CPU per operation in a readable unit.
func cpuPerOp(us float64) string {
	if us >= 1000 {
		return num(us/1000) + " ms CPU"
	}
	return num(us) + " µs CPU"
}

// num prints a figure with as many digits as are meaningful for its size.
func num(v float64) string {
	switch a := max(v, -v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
