package fence

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRepositoryFence is the rule itself: no Go file outside cgo/ imports
// "C" or "unsafe".
func TestRepositoryFence(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := ModuleRoot(wd)
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	violations, err := Check(root)
	require.NoError(t, err)
	for _, v := range violations {
		t.Errorf("%s: memory-unsafe code belongs under %s/ only", v, Allowed)
	}
}

func TestFencedImports(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Violation
	}{
		{"Clean", "package p\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nvar _ = fmt.Sprint\nvar _ = os.Args\n", nil},
		{"CommentsDoNotCount", "// We never import \"C\" or \"unsafe\" here.\npackage p\n\n/*\nimport \"C\"\n*/\nimport \"strings\" // not \"unsafe\"\n\nvar _ = strings.ToLower\n", nil},
		{"StringsDoNotCount", "package p\n\nconst s = `import \"unsafe\"`\n", nil},
		{"CgoPreamble", "package p\n\n// #include <stdio.h>\nimport \"C\"\n", []Violation{{Line: 4, Import: "C"}}},
		{"UnsafeInGroup", "package p\n\nimport (\n\t\"fmt\"\n\t\"unsafe\"\n)\n", []Violation{{Line: 5, Import: "unsafe"}}},
		{"CInGroup", "package p\n\nimport (\n\t\"C\"\n)\n", []Violation{{Line: 4, Import: "C"}}},
		{"Renamed", "package p\n\nimport u \"unsafe\"\nimport _ \"unsafe\"\n", []Violation{{Line: 3, Import: "unsafe"}, {Line: 4, Import: "unsafe"}}},
		{"Both", "package p\n\nimport \"C\"\nimport (\n\t. \"unsafe\"\n)\n", []Violation{{Line: 3, Import: "C"}, {Line: 5, Import: "unsafe"}}},
		{"RawStringPath", "package p\n\nimport `unsafe`\n", []Violation{{Line: 3, Import: "unsafe"}}},
		{"LookalikeIsFine", "package p\n\nimport \"example.com/unsafe\"\nimport \"C/x\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FencedImports("x.go", []byte(tt.src))
			require.NoError(t, err)
			for i := range tt.want {
				tt.want[i].Path = "x.go"
			}
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := FencedImports("broken.go", []byte("package p\nimport (\n"))
	assert.ErrorContains(t, err, "broken.go", "a file that does not parse is reported, not skipped")
}

func TestCheckWalk(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                        "module example.com/m\n",
		"cgo/shim.go":                   "package cgo\n\nimport \"C\"\nimport \"unsafe\"\n",
		"cgo/sub/more.go":               "package sub\n\nimport \"unsafe\"\n",
		"proxy/ok.go":                   "package proxy\n\nimport \"net\"\n\nvar _ net.Conn\n",
		"proxy/bad.go":                  "package proxy\n\nimport (\n\t\"unsafe\"\n)\n",
		"proxy/testdata/x.go":           "package x\n\nimport \"C\"\n",
		"tls/cgo/nested.go":             "package cgo\n\nimport \"C\"\n", // only the top-level cgo/ is allowed
		".git/objects/x.go":             "package x\n\nimport \"C\"\n",
		"README.go.txt":                 "import \"C\"\n",
		"internal/x/comment_only.go":    "package x\n\n// import \"unsafe\"\n",
		"internal/x/x_test.go":          "package x\n\nimport \"unsafe\"\n",
		"internal/x/testdata/y/deep.go": "package y\n\nimport \"unsafe\"\n",
	}
	for name, src := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	}
	got, err := Check(root)
	require.NoError(t, err)
	var paths []string
	for _, v := range got {
		paths = append(paths, v.Path)
	}
	assert.ElementsMatch(t, []string{"proxy/bad.go", "tls/cgo/nested.go", "internal/x/x_test.go"}, paths)

	found, err := ModuleRoot(filepath.Join(root, "proxy", "testdata"))
	require.NoError(t, err)
	assert.Equal(t, root, found)
	// Above the temp dir there is no go.mod of ours: whatever is found
	// (usually nothing) is not this root.
	above, err := ModuleRoot(filepath.Dir(root))
	if err == nil {
		assert.NotEqual(t, root, above)
	} else {
		assert.ErrorContains(t, err, "no go.mod")
	}
}

// TestFenceIsALeaf keeps the audited code self-contained: no Go file under
// cgo/, tests included, imports another Gantry package, so that what the
// fence does can be read without reading the rest of Gantry.
func TestFenceIsALeaf(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := ModuleRoot(wd)
	require.NoError(t, err)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	var module string
	for _, line := range strings.Split(string(mod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			module = strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	require.NotEmpty(t, module)
	seen := 0
	err = filepath.WalkDir(filepath.Join(root, Allowed), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		seen++
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if p == module || strings.HasPrefix(p, module+"/") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s imports %s: nothing under %s/ may import Gantry", rel, p, Allowed)
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Positive(t, seen)
}
