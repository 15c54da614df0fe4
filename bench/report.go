package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// SchemaVersion changes when the JSON layout changes incompatibly; merge
// refuses reports of another version rather than guess.
const SchemaVersion = 1

// ReferenceSubject is the column every ratio and the chart are normalised to.
const ReferenceSubject = "gostd"

// CompareReference is the second ratio base for the proxied rows.
const CompareReference = "nginx"

// Report is everything one or several `gantry bench` runs measured.
type Report struct {
	Schema   int               `json:"schema"`
	Started  string            `json:"started"`
	Host     string            `json:"host"`
	Go       string            `json:"go"`
	CPUSplit string            `json:"cpu_split"`
	Runs     int               `json:"runs"`
	Settings map[string]string `json:"settings,omitempty"`
	Backends []BackendInfo     `json:"backends"`
	// Subjects are the table's columns in order: backends, then compared
	// proxies.
	Subjects []string `json:"subjects"`
	Results  []Result `json:"results"`
	Notes    []string `json:"notes,omitempty"`
}

// BackendInfo says which library a backend column measured, and in which
// binary.
type BackendInfo struct {
	Name    string `json:"name"`
	Library string `json:"library"`
	Binary  string `json:"binary,omitempty"`
}

// Result is one cell of the table: one metric for one subject.
type Result struct {
	Metric  string    `json:"metric"`
	Subject string    `json:"subject"`
	Unit    string    `json:"unit"`
	Samples []float64 `json:"samples"`
	Summary
	// ServerCPU and LoadCPU are the busy percentages of the two CPUs during
	// each sample, to tell a server-bound figure from a load-bound one.
	ServerCPU []float64 `json:"server_cpu_pct,omitempty"`
	LoadCPU   []float64 `json:"load_cpu_pct,omitempty"`
	// ForeignCPU is what processes other than the benchmark's used during
	// each sample, in percent of one core: the machine may be shared.
	ForeignCPU []float64 `json:"foreign_cpu_pct,omitempty"`
	// CPUPerOp is, for rate rows, the CPU time the subject spent per
	// operation in microseconds (per connection, MB or request): a rate can
	// rise by burning more cores, this cannot.
	CPUPerOp []float64 `json:"cpu_us_per_op,omitempty"`
	// Errors of runs that produced no sample.
	Errors []string `json:"errors,omitempty"`
	// Detail holds per-run facts worth keeping, e.g. full/resumed counts.
	Detail []string `json:"detail,omitempty"`
}

// Find returns the result for metric and subject, or nil.
func (r *Report) Find(metric, subject string) *Result {
	for i := range r.Results {
		if r.Results[i].Metric == metric && r.Results[i].Subject == subject {
			return &r.Results[i]
		}
	}
	return nil
}

// cell returns the result for metric and subject, creating it.
func (r *Report) cell(metric, subject string) *Result {
	if res := r.Find(metric, subject); res != nil {
		return res
	}
	unit := ""
	if m, ok := MetricByID(metric); ok {
		unit = m.Unit
	}
	r.Results = append(r.Results, Result{Metric: metric, Subject: subject, Unit: unit})
	r.addSubject(subject)
	return &r.Results[len(r.Results)-1]
}

func (r *Report) addSubject(s string) {
	if !slices.Contains(r.Subjects, s) {
		r.Subjects = append(r.Subjects, s)
	}
}

// AddSample records one run's value with the CPU figures seen during it.
func (r *Report) AddSample(metric, subject string, v float64, use cpuUse) {
	c := r.cell(metric, subject)
	c.Samples = append(c.Samples, v)
	c.ServerCPU = append(c.ServerCPU, use.Server)
	c.LoadCPU = append(c.LoadCPU, use.Load)
	c.ForeignCPU = append(c.ForeignCPU, use.Foreign)
	if m, ok := MetricByID(metric); ok && !m.LowerIsBetter && v > 0 && use.Subject > 0 {
		c.CPUPerOp = append(c.CPUPerOp, use.Subject/v*1e6)
	}
	c.recompute()
}

// AddError records a run of metric that produced no figure, and why.
func (r *Report) AddError(metric, subject, msg string) {
	c := r.cell(metric, subject)
	if !slices.Contains(c.Errors, msg) {
		c.Errors = append(c.Errors, msg)
	}
}

// AddDetail keeps a fact about one run of a cell.
func (r *Report) AddDetail(metric, subject, detail string) {
	c := r.cell(metric, subject)
	c.Detail = append(c.Detail, detail)
}

// AddNote adds a report-wide remark once.
func (r *Report) AddNote(note string) {
	if !slices.Contains(r.Notes, note) {
		r.Notes = append(r.Notes, note)
	}
}

func (c *Result) recompute() {
	s, ok := Summarize(c.Samples)
	if !ok {
		c.Summary = Summary{}
		return
	}
	c.Summary = s
}

// Has reports whether the cell has at least one sample.
func (c *Result) Has() bool { return c != nil && c.N > 0 }

// WriteJSON writes the report, indented, to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: decode report %s: %w", path, err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("bench: report %s has schema %d, this binary reads %d", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}

// Merge combines reports of several binaries into one. Cells measured in
// more than one report (gostd, when both binaries measured it) pool their
// samples, so the median is taken over every run.
func Merge(reports ...*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, errors.New("bench: nothing to merge")
	}
	out := &Report{
		Schema:   SchemaVersion,
		Started:  reports[0].Started,
		Host:     reports[0].Host,
		Go:       reports[0].Go,
		CPUSplit: reports[0].CPUSplit,
		Settings: map[string]string{},
	}
	for _, in := range reports {
		if in.Schema != SchemaVersion {
			return nil, fmt.Errorf("bench: cannot merge schema %d into %d", in.Schema, SchemaVersion)
		}
		if in.CPUSplit != out.CPUSplit {
			out.AddNote(fmt.Sprintf("reports differ in CPU split: %q and %q", out.CPUSplit, in.CPUSplit))
		}
		out.Runs = max(out.Runs, in.Runs)
		for k, v := range in.Settings {
			if old, ok := out.Settings[k]; ok && old != v {
				out.Settings[k] = old + " | " + v
				continue
			}
			out.Settings[k] = v
		}
		for _, b := range in.Backends {
			if !slices.ContainsFunc(out.Backends, func(x BackendInfo) bool { return x.Name == b.Name }) {
				out.Backends = append(out.Backends, b)
			}
		}
		for _, s := range in.Subjects {
			out.addSubject(s)
		}
		for _, res := range in.Results {
			c := out.cell(res.Metric, res.Subject)
			c.Samples = append(c.Samples, res.Samples...)
			c.ServerCPU = append(c.ServerCPU, res.ServerCPU...)
			c.LoadCPU = append(c.LoadCPU, res.LoadCPU...)
			c.ForeignCPU = append(c.ForeignCPU, res.ForeignCPU...)
			c.CPUPerOp = append(c.CPUPerOp, res.CPUPerOp...)
			c.Detail = append(c.Detail, res.Detail...)
			for _, e := range res.Errors {
				if !slices.Contains(c.Errors, e) {
					c.Errors = append(c.Errors, e)
				}
			}
			c.recompute()
		}
		for _, n := range in.Notes {
			out.AddNote(n)
		}
	}
	out.Subjects = orderSubjects(out.Subjects, out.Backends)
	return out, nil
}

// orderSubjects puts gostd first, then the other backends, then compared
// proxies, keeping first-seen order within each group.
func orderSubjects(subjects []string, backends []BackendInfo) []string {
	isBackend := func(s string) bool {
		return slices.ContainsFunc(backends, func(b BackendInfo) bool { return b.Name == s })
	}
	var ref, bk, other []string
	for _, s := range subjects {
		switch {
		case s == ReferenceSubject:
			ref = append(ref, s)
		case isBackend(s):
			bk = append(bk, s)
		default:
			other = append(other, s)
		}
	}
	return slices.Concat(ref, bk, other)
}

// WriteOutputs writes results.json, table.md, chart.svg, report.html (the
// table and chart in one self-contained file) and, when rsvg-convert is
// installed, chart.png into dir, and returns the table text.
func WriteOutputs(r *Report, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("bench: create output directory: %w", err)
	}
	if err := r.WriteJSON(filepath.Join(dir, "results.json")); err != nil {
		return "", err
	}
	var sb strings.Builder
	if err := WriteTable(&sb, r); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "table.md"), []byte(sb.String()), 0o600); err != nil {
		return "", fmt.Errorf("bench: write table: %w", err)
	}
	var chart strings.Builder
	if err := WriteChart(&chart, r); err != nil {
		return "", err
	}
	svgPath := filepath.Join(dir, "chart.svg")
	if err := os.WriteFile(svgPath, []byte(chart.String()), 0o600); err != nil {
		return "", fmt.Errorf("bench: write chart: %w", err)
	}
	var page strings.Builder
	if err := WriteHTML(&page, r, sb.String(), chart.String()); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(page.String()), 0o600); err != nil {
		return "", fmt.Errorf("bench: write HTML report: %w", err)
	}
	// A PNG for places that show no SVG; only when rsvg-convert is there.
	if rsvg, err := exec.LookPath("rsvg-convert"); err == nil {
		out, err := exec.Command(rsvg, "-o", filepath.Join(dir, "chart.png"), svgPath).CombinedOutput() // #nosec G204 -- fixed tool, our own output path
		if err != nil {
			return "", fmt.Errorf("bench: rsvg-convert: %v: %s", err, out)
		}
	}
	return sb.String(), nil
}
