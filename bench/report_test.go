package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleReport(binary string, backends []string, compare bool) *Report {
	r := &Report{Schema: SchemaVersion, Runs: 3, CPUSplit: "server/proxy on CPU 0, load generator + origin on CPU 1 (taskset)",
		Settings: map[string]string{"h1": "wrk"}}
	for i, b := range backends {
		r.Backends = append(r.Backends, BackendInfo{Name: b, Library: b + " 1.0", Binary: binary})
		r.addSubject(b)
		f := float64(i + 1)
		for _, v := range []float64{1000, 1100, 900} {
			r.AddSample("hs_full_ecdsa_tls13", b, v*f, cpuUse{Server: 99, Load: 80})
			r.AddSample(MetricH1RPS, b, 10*v*f, cpuUse{Server: 99, Load: 95})
			r.AddSample(MetricH1P99, b, 2/f, cpuUse{Server: 99, Load: 95})
		}
	}
	if compare {
		for _, v := range []float64{40000, 41000, 39000} {
			r.AddSample(MetricH1RPS, "nginx", v, cpuUse{Server: 95, Load: 95})
			r.AddSample(MetricH1P99, "nginx", 1, cpuUse{Server: 95, Load: 95})
		}
	}
	return r
}

func TestReportCells(t *testing.T) {
	r := sampleReport("gantry", []string{"gostd"}, false)
	c := r.Find("hs_full_ecdsa_tls13", "gostd")
	require.NotNil(t, c)
	assert.Equal(t, Summary{Median: 1000, Min: 900, Max: 1100, N: 3}, c.Summary)
	assert.Equal(t, "conn/s", c.Unit)
	assert.Nil(t, r.Find("hs_full_ecdsa_tls13", "openssl"))

	r.AddError(MetricH2RPS, "gostd", "proxy not available")
	r.AddError(MetricH2RPS, "gostd", "proxy not available")
	e := r.Find(MetricH2RPS, "gostd")
	require.NotNil(t, e)
	assert.False(t, e.Has())
	assert.Equal(t, []string{"proxy not available"}, e.Errors, "an error is recorded once")
}

func TestJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport("gantry", []string{"gostd", "openssl"}, true)
	r.AddError(MetricH2RPS, "gostd", "proxy not available")
	path := filepath.Join(dir, "r.json")
	require.NoError(t, r.WriteJSON(path))
	back, err := ReadJSON(path)
	require.NoError(t, err)
	assert.Equal(t, r.Subjects, back.Subjects)
	assert.Equal(t, r.Results, back.Results)

	bad := *r
	bad.Schema = SchemaVersion + 1
	require.NoError(t, bad.WriteJSON(path))
	_, err = ReadJSON(path)
	assert.ErrorContains(t, err, "schema")

	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, err = ReadJSON(path)
	assert.Error(t, err)
	_, err = ReadJSON(filepath.Join(dir, "missing.json"))
	assert.Error(t, err)
}

func TestMerge(t *testing.T) {
	a := sampleReport("gantry-openssl", []string{"gostd", "openssl"}, true)
	b := sampleReport("gantry-boringssl", []string{"boringssl"}, false)
	// Both binaries measured gostd: the samples must pool.
	b.Backends = append([]BackendInfo{{Name: "gostd", Library: "gostd 1.0", Binary: "gantry-boringssl"}}, b.Backends...)
	b.Subjects = append([]string{"gostd"}, b.Subjects...)
	for _, v := range []float64{2000, 2100} {
		b.AddSample("hs_full_ecdsa_tls13", "gostd", v, cpuUse{Server: 99, Load: 80})
	}
	b.AddNote("boringssl note")

	m, err := Merge(a, b)
	require.NoError(t, err)
	assert.Equal(t, []string{"gostd", "openssl", "boringssl", "nginx"}, m.Subjects, "backends first, gostd leading, compared proxies last")
	assert.Len(t, m.Backends, 3)
	g := m.Find("hs_full_ecdsa_tls13", "gostd")
	require.NotNil(t, g)
	assert.Equal(t, 5, g.N)
	assert.Equal(t, Summary{Median: 1100, Min: 900, Max: 2100, N: 5}, g.Summary)
	assert.Len(t, g.LoadCPU, 5)
	bs := m.Find("hs_full_ecdsa_tls13", "boringssl")
	require.NotNil(t, bs)
	assert.Equal(t, 1000.0, bs.Median)
	assert.Contains(t, m.Notes, "boringssl note")
	assert.Equal(t, 3, m.Runs)

	// Inputs are not modified.
	assert.Equal(t, 3, a.Find("hs_full_ecdsa_tls13", "gostd").N)

	_, err = Merge()
	assert.Error(t, err)
	bad := sampleReport("x", []string{"gostd"}, false)
	bad.Schema = 99
	_, err = Merge(a, bad)
	assert.ErrorContains(t, err, "schema")
}

func TestWriteTable(t *testing.T) {
	r := sampleReport("gantry", []string{"gostd", "openssl"}, true)
	r.AddError(MetricH2RPS, "openssl", "proxy not available")
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, r))
	out := buf.String()
	assert.Contains(t, out, "| full HS ECDSA TLS1.3 | conn/s | 1000 (900–1100) | 2000 (1800–2200) | – |")
	assert.Contains(t, out, "| h1 proxied | req/s | 10000 (9000–11000) † | 20000 (18000–22000) † | 40000 (39000–41000) † |")
	assert.Contains(t, out, "Ratio to gostd")
	assert.Contains(t, out, "| full HS ECDSA TLS1.3 | 2.00 | – |")
	assert.Contains(t, out, "Ratio to nginx (proxied rows)")
	assert.Contains(t, out, "| h1 proxied | 0.25 | 0.50 |")
	assert.Contains(t, out, "| h1 p99 ↓ | 2.00 | 1.00 |")
	assert.Contains(t, out, "h2 proxied / openssl: proxy not available")
	assert.Contains(t, out, "CPU 0")
	assert.NotContains(t, out, "| bulk", "rows nobody measured are left out")
}

func TestWriteChartIsValidSVG(t *testing.T) {
	tests := []struct {
		name string
		r    *Report
	}{
		{"full", sampleReport("gantry", []string{"gostd", "openssl", "boringssl"}, true)},
		{"no gostd figure", sampleReport("gantry", []string{"openssl"}, false)},
		{"empty", &Report{Schema: SchemaVersion, Runs: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteChart(&buf, tt.r))
			require.NotZero(t, buf.Len())
			assertValidSVG(t, buf.Bytes())
		})
	}
}

func assertValidSVG(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "chart must be well-formed XML")
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	assert.Equal(t, "svg", root)
}

func TestWriteOutputs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := sampleReport("gantry", []string{"gostd", "openssl"}, true)
	table, err := WriteOutputs(r, dir)
	require.NoError(t, err)
	assert.Contains(t, table, "gostd")
	for _, f := range []string{"results.json", "table.md", "chart.svg"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.NotZero(t, st.Size(), f)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "chart.svg"))
	require.NoError(t, err)
	assertValidSVG(t, svg)
	assert.True(t, strings.Contains(string(svg), "openssl"), "legend names the backends")
}

func TestMetricsCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Metrics {
		assert.False(t, seen[m.ID], "duplicate metric %s", m.ID)
		seen[m.ID] = true
		assert.NotEmpty(t, m.Unit, m.ID)
	}
	assert.Len(t, handshakeCases, 10, "full and resumed × ECDSA and RSA × TLS 1.2 and 1.3, and full ECDSA behind the ClientHello reader")
	h, ok := MetricByID("hs_full_ecdsa_hello_tls13")
	require.True(t, ok, "the inspection's row")
	assert.Equal(t, "full HS ECDSA +JA4 TLS1.3", h.Label)
	m, ok := MetricByID("hs_resume_rsa_tls12")
	require.True(t, ok)
	assert.Equal(t, "resumed HS RSA TLS1.2", m.Label)
	_, ok = MetricByID("nope")
	assert.False(t, ok)
}
