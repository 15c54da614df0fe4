package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a config file, located by line and dotted key.
type Error struct {
	File string
	// Line is 1-based; 0 when the problem has no place in the file.
	Line int
	// Key is the dotted path, e.g. "listeners[0].tls.backend"; empty for
	// the file as a whole.
	Key string
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxErrors keeps a badly broken file from producing pages of output; the
// first errors are the useful ones.
const maxErrors = 20

// errorList collects errors with their positions while decoding and
// validating, so that one run reports every problem it can.
type errorList struct {
	file  string
	lines map[string]int
	errs  []error
	// valueErrs counts errors about a value that decoded to its type's
	// zero (an unknown enum name): the rest of the file can still be
	// validated, so those are reported together with validation's.
	valueErrs int
}

// decodeOnly reports whether decoding found errors that make validation
// pointless (a wrong shape, an unknown key, a bad duration).
func (l *errorList) decodeOnly() bool { return len(l.errs) > l.valueErrs }

func (l *errorList) add(key string, err error) {
	if len(l.errs) >= maxErrors {
		return
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: l.lineOf(key), Key: key, Err: err})
}

func (l *errorList) addf(key, format string, args ...any) {
	l.add(key, fmt.Errorf(format, args...))
}

// lineOf finds the line of key or, for a key absent from the file, of its
// nearest ancestor that is present.
func (l *errorList) lineOf(key string) int {
	for {
		if n, ok := l.lines[key]; ok {
			return n
		}
		if key == "" {
			return 0
		}
		key = parentKey(key)
	}
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	if len(l.errs) == 1 {
		return l.errs[0]
	}
	return errors.Join(l.errs...)
}

func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

func childKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

var (
	durationType      = reflect.TypeFor[time.Duration]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoder fills Go values from YAML nodes, recording the line of every key
// it sees and refusing keys the target struct does not have.
type decoder struct {
	*errorList
	// nodes counts the nodes visited: aliases can make a small file expand
	// exponentially ("billion laughs"), and a config never needs that many.
	nodes int
}

// maxNodes bounds alias expansion; real configs have a few hundred nodes.
const maxNodes = 100_000

func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.addf(key, "config expands to more than %d values (aliases nested too deep?)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.lines[key] == 0 {
		d.lines[key] = n.Line
	}
	// An empty value ("key:" or "key: null") leaves the default in place.
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if v.Type() == durationType {
		d.duration(n, v, key)
		return
	}
	if v.Kind() != reflect.Pointer && reflect.PointerTo(v.Type()).Implements(textUnmarshalType) {
		d.text(n, v, key)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), key)
	case reflect.Struct:
		d.structure(n, v, key)
	case reflect.Slice:
		d.sequence(n, v, key)
	case reflect.Map:
		d.mapping(n, v, key)
	default:
		d.scalar(n, v, key)
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode {
		d.addf(key, "want a duration such as \"10s\" or \"1m30s\", got a %s", kindName(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.addf(key, "invalid duration %q (use Go durations such as \"500ms\", \"10s\", \"1m\")", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

// text decodes a scalar into a type that parses itself (an enum such as
// tls.ClientAuthMode), so its own error message reaches the user.
func (d *decoder) text(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode {
		d.addf(key, "want a string, got a %s", kindName(n))
		return
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
		d.add(key, err)
		d.valueErrs++
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode {
		d.addf(key, "want a %s, got a %s", typeName(v.Type()), kindName(n))
		return
	}
	// Any scalar is a valid string: "yes" or 0755 stay as written rather
	// than being reinterpreted by YAML's type resolution.
	if v.Kind() == reflect.String {
		v.SetString(n.Value)
		return
	}
	target := reflect.New(v.Type())
	if err := n.Decode(target.Interface()); err != nil {
		d.addf(key, "want a %s, got %q", typeName(v.Type()), n.Value)
		return
	}
	v.Set(target.Elem())
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(key, "want a list, got a %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", key, i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.addf(key, "want a mapping, got a %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.addf(key, "internal error: map key type %s", v.Type().Key())
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		sub := childKey(key, name)
		d.lines[sub] = k.Line
		if seen[name] {
			d.addf(sub, "duplicate key %q", name)
			continue
		}
		seen[name] = true
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, sub)
		d.lines[sub] = k.Line
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, key string) {
	d.structureSkipping(n, v, key, map[string]bool{})
}

// structureSkipping decodes a mapping into a struct, leaving out keys in
// seen. Merge keys ("<<: *base") are applied after the mapping's own keys,
// so that explicit keys win, as YAML specifies.
func (d *decoder) structureSkipping(n *yaml.Node, v reflect.Value, key string, seen map[string]bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.addf(key, "want a mapping, got a %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	own := make(map[string]bool)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			merges = append(merges, val)
			continue
		}
		sub := childKey(key, k.Value)
		if own[k.Value] {
			d.addf(sub, "duplicate key %q", k.Value)
			continue
		}
		own[k.Value] = true
		if seen[k.Value] {
			continue
		}
		d.lines[sub] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			d.addf(sub, "unknown key %q (known here: %s)", k.Value, knownKeys(fields))
			continue
		}
		if f.negate {
			d.negated(val, v.FieldByIndex(f.index), sub)
		} else {
			d.decode(val, v.FieldByIndex(f.index), sub)
		}
		// Errors about a key point at the key, not at its value.
		d.lines[sub] = k.Line
	}
	for name := range own {
		seen[name] = true
	}
	for _, m := range merges {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		if m.Kind == yaml.SequenceNode {
			for _, item := range m.Content {
				d.structureSkipping(item, v, key, seen)
			}
			continue
		}
		d.structureSkipping(m, v, key, seen)
	}
}

// field is where a YAML key lands in a struct: an index path, because
// ",inline" structs lend their keys to the struct that embeds them.
type field struct {
	index []int
	// negate marks a bool whose key is the opposite switch: the Go field
	// keeps the safe zero value (DisableVerifyCert) while the file says
	// what users expect to write (verify_cert: false).
	negate bool
}

// yamlFields maps the yaml key names of t's fields, those of inlined
// structs included, to where they land.
func yamlFields(t reflect.Type) map[string]field {
	out := make(map[string]field, t.NumField())
	addFields(out, t, nil)
	return out
}

func addFields(out map[string]field, t reflect.Type, prefix []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		index := append(append([]int(nil), prefix...), i)
		if name == "" && hasOption(opts, "inline") && f.Type.Kind() == reflect.Struct {
			addFields(out, f.Type, index)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = field{index: index, negate: hasOption(opts, "negate") && f.Type.Kind() == reflect.Bool}
	}
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// negated decodes a boolean key into the opposite Go switch.
func (d *decoder) negated(n *yaml.Node, v reflect.Value, key string) {
	b, before := !v.Bool(), len(d.errs)
	d.decode(n, reflect.ValueOf(&b).Elem(), key)
	if len(d.errs) == before {
		v.SetBool(!b)
	}
}

func knownKeys(fields map[string]field) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return fmt.Sprintf("scalar %q", n.Value)
	default:
		return "node"
	}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Uint32, reflect.Uint, reflect.Uint64:
		return "non-negative integer"
	default:
		return t.String()
	}
}
