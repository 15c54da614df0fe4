package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMainUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown compare", []string{"--compare", "apache"}, 2, "nginx and haproxy"},
		{"unknown workload", []string{"--only", "dns"}, 2, "--only"},
		{"stray argument", []string{"--runs", "1", "extra"}, 2, "unexpected argument"},
		{"bad flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"merge without files", []string{"merge"}, 1, "at least one"},
		{"merge missing file", []string{"merge", "/nonexistent/r.json"}, 1, "read report"},
		{"zero runs", []string{"--runs", "0", "--out", "/nonexistent/never"}, 1, "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), tt.args, &out, &errb)
			assert.Equal(t, tt.code, code, errb.String())
			assert.Contains(t, errb.String(), tt.msg)
		})
	}
}

func TestMainMerge(t *testing.T) {
	dir := t.TempDir()
	a := sampleReport("gantry-openssl", []string{"gostd", "openssl"}, true)
	b := sampleReport("gantry-boringssl", []string{"boringssl"}, false)
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	require.NoError(t, a.WriteJSON(pa))
	require.NoError(t, b.WriteJSON(pb))
	out := filepath.Join(dir, "merged")

	var stdout, stderr bytes.Buffer
	// Flags may follow the files, as in `gantry bench merge a.json b.json --out DIR`.
	code := Main(context.Background(), []string{"merge", pa, pb, "--out", out}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "| metric | unit | gostd | openssl | boringssl | nginx |")
	m, err := ReadJSON(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{"gostd", "openssl", "boringssl", "nginx"}, m.Subjects)
	svg, err := os.ReadFile(filepath.Join(out, "chart.svg"))
	require.NoError(t, err)
	assertValidSVG(t, svg)
}
