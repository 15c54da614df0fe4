package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSemverLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"", "0.1.0", true},
		{"0.1.0", "", false},
		{"0.17.0", "0.23.0", true},
		{"v0.9.0", "0.10.0", true},
		{"1.21.0", "1.21.0", false},
		{"1.27.0-0", "1.27.0", true},
		{"1.0.0-alpha", "1.0.0-alpha.1", true},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", true},
		{"1.0.0-beta.2", "1.0.0-beta.11", true},
		{"1.0.0-rc.1", "1.0.0", true},
		{"1.11.0-alpha.0.0.20260225185322-738bad662b20", "1.11.0", true},
		{"10.0.0", "9.99.99", false},
		{"01.0.0", "1.0.0", true}, // a leading zero is invalid, so it sorts first
	} {
		assert.Equal(t, tc.less, semverLess(tc.a, tc.b), "%q < %q", tc.a, tc.b)
	}
}

func TestLatestFix(t *testing.T) {
	r := func(events ...[2]string) osvRange {
		var out osvRange
		out.Type = "SEMVER"
		for _, e := range events {
			out.Events = append(out.Events, struct {
				Introduced string `json:"introduced"`
				Fixed      string `json:"fixed"`
			}{e[0], e[1]})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		ranges []osvRange
		want   string
	}{
		{"one fix", []osvRange{r([2]string{"0", ""}, [2]string{"", "0.23.0"})}, "0.23.0"},
		{"two branches", []osvRange{r([2]string{"0", ""}, [2]string{"", "1.26.10"}, [2]string{"1.27.0-0", ""}, [2]string{"", "1.27.3"})}, "1.27.3"},
		{"reintroduced", []osvRange{r([2]string{"0", ""}, [2]string{"", "1.0.0"}, [2]string{"2.0.0", ""})}, ""},
		{"never fixed", []osvRange{r([2]string{"0", ""})}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, latestFix(tc.ranges))
		})
	}
}

func TestPseudoVersionTime(t *testing.T) {
	got, err := pseudoVersionTime("v0.0.0-20261105234957-e22db6528018")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC), got)
	_, err = pseudoVersionTime("v1.2.3")
	assert.Error(t, err)
}

const sampleOSV = `{
  "schema_version": "1.3.1", "id": "%s", "modified": "%s",
  "aliases": ["CVE-2000-0001"], "summary": "test",
  "affected": [{"package": {"name": "example.com/mod", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]}]}]
}`

func writeOSV(t *testing.T, dir, id, modified string) {
	t.Helper()
	b := []byte(fmtOSV(id, modified))
	require.NoError(t, os.WriteFile(filepath.Join(dir, id+".json"), b, 0o600))
}

func fmtOSV(id, modified string) string {
	return fmt.Sprintf(sampleOSV, id, modified)
}

func TestBuildIsReproducibleAndComplete(t *testing.T) {
	src := t.TempDir()
	writeOSV(t, src, "GO-2024-0002", "0001-01-01T00:00:00Z")
	writeOSV(t, src, "GO-2024-0001", "2024-03-01T10:00:00Z")

	outDir := t.TempDir()
	var digests []string
	for i := range 2 {
		out := filepath.Join(outDir, "db", string(rune('a'+i)))
		var log strings.Builder
		require.NoError(t, run([]string{"-src", src, "-modified", "2025-01-02T03:04:05Z", "-out", out}, &log))
		_, sum, ok := strings.Cut(log.String(), "sha256 ")
		require.True(t, ok, "no digest in %q", log.String())
		digests = append(digests, sum)
	}
	assert.Equal(t, digests[0], digests[1], "two builds of the same input differ")

	out := filepath.Join(outDir, "db", "a")
	var db dbMeta
	readJSON(t, filepath.Join(out, "index", "db.json"), &db)
	assert.Equal(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), db.Modified, "the fallback is newer than every entry")

	var mods []moduleMeta
	readJSON(t, filepath.Join(out, "index", "modules.json"), &mods)
	require.Len(t, mods, 1)
	assert.Equal(t, "example.com/mod", mods[0].Path)
	require.Len(t, mods[0].Vulns, 2)
	assert.Equal(t, "GO-2024-0001", mods[0].Vulns[0].ID)
	assert.Equal(t, "1.2.3", mods[0].Vulns[0].Fixed)

	var vulns []vulnMeta
	readJSON(t, filepath.Join(out, "index", "vulns.json"), &vulns)
	require.Len(t, vulns, 2)
	assert.Equal(t, []string{"CVE-2000-0001"}, vulns[1].Aliases)

	var entry map[string]any
	readJSON(t, filepath.Join(out, "ID", "GO-2024-0002.json"), &entry)
	assert.Equal(t, "2025-01-02T03:04:05Z", entry["modified"], "a zero modified time takes the fallback")
	assert.Equal(t, "test", entry["summary"], "fields pass through")
}

func TestRefusesUnsafeOrInconsistentInput(t *testing.T) {
	for _, tc := range []struct {
		name, file, id string
	}{
		{"path in ID", "GO-2024-0001.json", "../../etc/x"},
		{"file name differs", "GO-2024-0001.json", "GO-2024-0009"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(src, tc.file), []byte(fmtOSV(tc.id, "2024-01-01T00:00:00Z")), 0o600))
			err := run([]string{"-src", src, "-out", filepath.Join(t.TempDir(), "db")}, &strings.Builder{})
			assert.Error(t, err)
		})
	}
	t.Run("no modified time and no fallback", func(t *testing.T) {
		src := t.TempDir()
		writeOSV(t, src, "GO-2024-0001", "0001-01-01T00:00:00Z")
		assert.Error(t, run([]string{"-src", src, "-out", filepath.Join(t.TempDir(), "db")}, &strings.Builder{}))
	})
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}
