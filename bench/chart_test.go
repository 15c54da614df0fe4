package bench

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullReport has every row of the catalogue on 1 and 2 CPUs for three
// backends, and the proxied rows for nginx and HAProxy: the busiest chart
// `make bench` can produce.
func fullReport() *Report {
	r := &Report{Schema: SchemaVersion, Runs: 3, CPUSplit: "1 CPU: …; 2 CPUs: … (taskset)", Settings: map[string]string{}}
	backends := []string{"gostd", "openssl", "boringssl"}
	libs := []string{"Go crypto/tls (go1.27.3)", "OpenSSL 3.0.19 27 Jan 2026", "BoringSSL (Debian android-libboringssl 14)"}
	for i, b := range backends {
		r.Backends = append(r.Backends, BackendInfo{Name: b, Library: libs[i]})
		r.addSubject(b)
	}
	use := cpuUse{Server: 99, Load: 80, Subject: 0.98}
	for _, n := range []int{1, 2} {
		for mi, m := range Metrics {
			subjects := backends
			if m.Proxied {
				subjects = append(subjects[:3:3], "nginx", "haproxy")
			}
			for si, s := range subjects {
				base := 1000.0 * float64(mi%5+1)
				switch m.Unit {
				case "ms":
					base = 0.8 + float64(mi%3)
				case "KiB":
					base = 30 + 20*float64(si)
				case "MB/s":
					base = 700
				}
				v := base * (1 + 0.15*float64(si)) * (0.7 + 0.6*float64(n-1))
				for _, f := range []float64{0.9, 1, 1.08} {
					r.AddSample(AtCPUs(m.ID, n), s, v*f, use)
				}
			}
		}
	}
	return r
}

// TestChartNamesEverything: every backend, reference and panel is named
// in the SVG text, and the title is there.
func TestChartNamesEverything(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteChart(&buf, fullReport()))
	svg := buf.String()
	assertValidSVG(t, buf.Bytes())
	for _, want := range []string{"gostd", "openssl", "boringssl", "nginx", "haproxy",
		"connections per second", "MB per second", "requests per second", "milliseconds (p50)", "milliseconds (p99)", "KiB per connection",
		"Server side", "Client side", "Gantry TLS backends", "· 2 CPUs", "OpenSSL 3.0.19"} {
		assert.Contains(t, svg, want)
	}
	assert.Contains(t, svg, chartFontFamily)
}

// TestChartRendersWithRsvg renders the chart with Debian's rsvg-convert
// (librsvg2-bin, installed by `make deps`): the SVG must parse in a real
// renderer, not only as XML, and come out at README width. CHART_PNG=FILE
// keeps the PNG to look at.
func TestChartRendersWithRsvg(t *testing.T) {
	rsvg, err := exec.LookPath("rsvg-convert")
	if err != nil {
		t.Skip("rsvg-convert not installed (apt-get install librsvg2-bin, or make deps)")
	}
	for name, r := range map[string]*Report{
		"full":  fullReport(),
		"small": sampleReport("gantry", []string{"gostd", "openssl"}, true),
		"empty": {Schema: SchemaVersion, Runs: 1},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			svgPath := filepath.Join(dir, "chart.svg")
			var buf bytes.Buffer
			require.NoError(t, WriteChart(&buf, r))
			require.NoError(t, os.WriteFile(svgPath, buf.Bytes(), 0o600))
			pngPath := filepath.Join(dir, "chart.png")
			if keep := os.Getenv("CHART_PNG"); keep != "" && name == "full" {
				pngPath = keep
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, rsvg, "-o", pngPath, svgPath).CombinedOutput()
			require.NoError(t, err, "rsvg-convert: %s", out)
			assert.Empty(t, strings.TrimSpace(string(out)), "rsvg-convert warnings")
			f, err := os.Open(pngPath)
			require.NoError(t, err)
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			require.NoError(t, err)
			assert.Equal(t, 900, cfg.Width, "README width")
		})
	}
}

// TestHTMLReportSelfContained: report.html holds the chart inline and the
// table as HTML, and loads nothing from anywhere else.
func TestHTMLReportSelfContained(t *testing.T) {
	dir := t.TempDir()
	r := fullReport()
	table, err := WriteOutputs(r, dir)
	require.NoError(t, err)
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	s := string(page)
	assert.Contains(t, s, "<svg")
	assert.NotContains(t, s, "<?xml")
	assert.Contains(t, s, "<th>metric</th>")
	assert.Contains(t, s, "<td>full HS ECDSA TLS1.3 · 2 CPUs</td>")
	for _, ext := range []string{"src=", "href=", "@import", "url("} {
		assert.NotContains(t, s, ext, "no external assets")
	}
	assert.Contains(t, table, "µs CPU", "rate cells carry CPU time per operation")
}
