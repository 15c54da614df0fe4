package fence

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Allowed is the only top-level directory whose Go files may import the
// fenced packages.
const Allowed = "cgo"

// fenced are the imports that make Go code memory-unsafe.
var fenced = map[string]bool{"C": true, "unsafe": true}

// Violation is one fenced import outside Allowed.
type Violation struct {
	Path   string // relative to the repository root, slash-separated
	Line   int
	Import string // "C" or "unsafe"
}

func (v Violation) String() string {
	return fmt.Sprintf("%s:%d imports %q outside %s/", v.Path, v.Line, v.Import, Allowed)
}

// FencedImports returns the fenced imports of one Go source file, with
// their lines. filename is only used in messages.
func FencedImports(filename string, src []byte) ([]Violation, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ImportsOnly)
	if err != nil {
		return nil, fmt.Errorf("fence: parse %s: %w", filename, err)
	}
	var out []Violation
	for _, spec := range f.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			return nil, fmt.Errorf("fence: %s: bad import path %s: %w", filename, spec.Path.Value, err)
		}
		if fenced[path] {
			out = append(out, Violation{Path: filename, Line: fset.Position(spec.Pos()).Line, Import: path})
		}
	}
	return out, nil
}

// Check walks the repository at root and returns every fenced import in a
// .go file outside root/cgo. Directories named testdata hold inputs, not
// code, and .git holds history; both are skipped.
func Check(root string) ([]Violation, error) {
	var out []Violation
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "testdata" || rel == Allowed {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".go") {
			return nil
		}
		src, err := os.ReadFile(path) // #nosec G122 -- a test-time scan of this repository's own tree, not of untrusted paths.
		if err != nil {
			return fmt.Errorf("fence: %w", err)
		}
		vs, err := FencedImports(rel, src)
		if err != nil {
			return err
		}
		out = append(out, vs...)
		return nil
	})
	return out, err
}

// ModuleRoot finds the directory holding go.mod, starting at dir and going
// up.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("fence: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("fence: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("fence: no go.mod above the working directory")
		}
		dir = parent
	}
}
