package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaIsDocumented walks the types the YAML decodes into — the
// proxy's, tls's and certs' own option structs — and fails when a field
// has no yaml tag (a setting with no key) or a key has no row in
// docs/CONFIG.md (a key nobody can find).
func TestSchemaIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	require.NoError(t, err)
	documented := documentedKeys(string(doc))
	require.NotEmpty(t, documented)

	var untagged, undocumented []string
	seen := map[reflect.Type]string{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, ok := f.Tag.Lookup("yaml")
			if !ok {
				untagged = append(untagged, t.String()+"."+f.Name)
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if name == "" && strings.Contains(opts, "inline") {
				walk(ft, path)
				continue
			}
			key := strings.TrimPrefix(path+"."+name, ".")
			switch ft.Kind() {
			case reflect.Slice:
				if e := ft.Elem(); e.Kind() == reflect.Struct {
					descend(key+"[]", e, seen, walk, documented, &undocumented)
					continue
				}
			case reflect.Map:
				e := ft.Elem()
				for e.Kind() == reflect.Pointer {
					e = e.Elem()
				}
				descend(key+".NAME", e, seen, walk, documented, &undocumented)
				continue
			case reflect.Struct:
				if !reflect.PointerTo(ft).Implements(textUnmarshalType) {
					descend(key, ft, seen, walk, documented, &undocumented)
					continue
				}
			}
			if !documented[key] {
				undocumented = append(undocumented, key)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	assert.Empty(t, untagged, "option fields without a yaml tag: give each a key, or yaml:\"-\" when it is not read from the file")
	assert.Empty(t, undocumented, "keys with no row in docs/CONFIG.md")
}

// descend walks a struct-valued key. A type met before (listeners'
// timeouts are server.timeouts' type) needs only its own row: its keys are
// documented where it was first met.
func descend(key string, t reflect.Type, seen map[reflect.Type]string, walk func(reflect.Type, string), documented map[string]bool, undocumented *[]string) {
	if first, ok := seen[t]; ok {
		if !documented[key] && !documented[strings.TrimSuffix(key, "[]")] {
			*undocumented = append(*undocumented, key+" (same keys as "+first+")")
		}
		return
	}
	seen[t] = key
	walk(t, key)
}

var (
	sectionRe = regexp.MustCompile("^#{3,4} `([^`]+)`")
	rowRe     = regexp.MustCompile("^\\| (`[^|]+`) \\|")
	keyRe     = regexp.MustCompile("`([^`]+)`")
)

// documentedKeys reads the reference tables: a "### `section`" heading
// names the prefix of the rows below it, each row's first cell the keys.
func documentedKeys(doc string) map[string]bool {
	out := map[string]bool{}
	section := ""
	for line := range strings.SplitSeq(doc, "\n") {
		if m := sectionRe.FindStringSubmatch(line); m != nil {
			section = m[1]
			out[section] = true
			continue
		}
		m := rowRe.FindStringSubmatch(line)
		if m == nil || section == "" {
			continue
		}
		for _, k := range keyRe.FindAllStringSubmatch(m[1], -1) {
			out[section+"."+k[1]] = true
		}
	}
	return out
}
