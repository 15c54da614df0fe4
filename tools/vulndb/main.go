package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

const vulndbModule = "golang.org/x/vulndb"

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vulndb", flag.ContinueOnError)
	version := fs.String("version", "", "version of "+vulndbModule+" to download with `go mod download` and convert")
	wantSum := fs.String("sum", "", "expected go.sum hash (h1:…) of the module zip; the build fails on any other")
	src := fs.String("src", "", "directory of OSV JSON files to convert instead of downloading the module")
	modified := fs.String("modified", "", "RFC 3339 time for advisories without one (default: the pseudo-version's time with -version)")
	out := fs.String("out", "", "directory to write the database to (replaced atomically)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || (*src == "") == (*version == "") {
		return errors.New("usage: vulndb (-version V [-sum h1:…] | -src DIR [-modified T]) -out DIR")
	}

	var fallback time.Time
	if *version != "" {
		dir, sum, err := downloadModule(*version)
		if err != nil {
			return err
		}
		if *wantSum != "" && sum != *wantSum {
			return fmt.Errorf("%s@%s has sum %s, want %s", vulndbModule, *version, sum, *wantSum)
		}
		*src = filepath.Join(dir, "data", "osv")
		if fallback, err = pseudoVersionTime(*version); err != nil {
			return err
		}
	}
	if *modified != "" {
		t, err := time.Parse(time.RFC3339, *modified)
		if err != nil {
			return fmt.Errorf("-modified: %w", err)
		}
		fallback = t
	}

	entries, err := readEntries(*src, fallback)
	if err != nil {
		return err
	}
	files, err := buildDB(entries)
	if err != nil {
		return err
	}
	if err := writeDB(*out, files); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vulndb: %d advisories, %d modules -> %s (sha256 %s)\n",
		len(entries), countModules(entries), *out, digest(files))
	return nil
}

// downloadModule fetches the module through the Go module proxy and the
// checksum database, as any dependency is fetched, and returns where the
// module cache unpacked it.
func downloadModule(version string) (dir, sum string, err error) {
	if !moduleVersionRE.MatchString(version) {
		return "", "", fmt.Errorf("module version %q is not a version", version)
	}
	// #nosec G204 -- the argument is checked against moduleVersionRE above
	// and exec does not go through a shell.
	cmd := exec.Command("go", "mod", "download", "-json", vulndbModule+"@"+version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go mod download %s@%s: %w: %s", vulndbModule, version, err, strings.TrimSpace(stderr.String()))
	}
	var info struct {
		Dir, Sum, Error string
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return "", "", fmt.Errorf("go mod download output: %w", err)
	}
	if info.Error != "" {
		return "", "", fmt.Errorf("go mod download %s@%s: %s", vulndbModule, version, info.Error)
	}
	return info.Dir, info.Sum, nil
}

var (
	moduleVersionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	// pseudoTimeRE finds the UTC commit time inside a pseudo-version such as
	// v0.0.0-20261105234957-e22db6528018.
	pseudoTimeRE = regexp.MustCompile(`[-.]([0-9]{14})-[0-9a-f]{12}$`)
	// idRE is the shape of a Go advisory ID. IDs become file names, so
	// anything else is refused rather than trusted as a path.
	idRE = regexp.MustCompile(`^GO-[0-9]{4}-[0-9]{4,}$`)
)

func pseudoVersionTime(v string) (time.Time, error) {
	m := pseudoTimeRE.FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, fmt.Errorf("version %q is not a pseudo-version; give -modified", v)
	}
	t, err := time.Parse("20060102150405", m[1])
	if err != nil {
		return time.Time{}, fmt.Errorf("pseudo-version %q: %w", v, err)
	}
	return t.UTC(), nil
}

// osvEntry holds the fields of an OSV entry the indexes need. The entry
// itself is passed through as raw JSON so that no field govulncheck reads is
// lost to this program's idea of the schema.
type osvEntry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`

	raw map[string]json.RawMessage
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced"`
		Fixed      string `json:"fixed"`
	} `json:"events"`
}

// readEntries reads every GO-*.json file of dir, sorted by ID.
func readEntries(dir string, fallback time.Time) ([]*osvEntry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no OSV JSON files in %s", dir)
	}
	var entries []*osvEntry
	for _, name := range names {
		b, err := os.ReadFile(name) // #nosec G304 -- name comes from globbing the operator-given -src directory.
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		e := &osvEntry{}
		if err := json.Unmarshal(b, e); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		if err := json.Unmarshal(b, &e.raw); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		if !idRE.MatchString(e.ID) {
			return nil, fmt.Errorf("%s: advisory ID %q is not of the form GO-YYYY-NNNN", name, e.ID)
		}
		if filepath.Base(name) != e.ID+".json" {
			return nil, fmt.Errorf("%s: file name does not match advisory ID %s", name, e.ID)
		}
		if e.Modified.IsZero() {
			if fallback.IsZero() {
				return nil, fmt.Errorf("%s: no modified time and no fallback (give -modified)", name)
			}
			e.Modified = fallback
			t, err := json.Marshal(fallback)
			if err != nil {
				return nil, err
			}
			e.raw["modified"] = t
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
	return entries, nil
}

type dbMeta struct {
	Modified time.Time `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	// Fixed is the version (no "v") that fixes the advisory for good;
	// govulncheck skips fetching an entry when the module is at or past it,
	// so it must be empty whenever a later version is affected again.
	Fixed string `json:"fixed,omitempty"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// buildDB returns every file of the database, by slash-separated path.
func buildDB(entries []*osvEntry) (map[string][]byte, error) {
	files := make(map[string][]byte, len(entries)+3)
	var db dbMeta
	modules := map[string]*moduleMeta{}
	vulns := make([]vulnMeta, 0, len(entries))
	for _, e := range entries {
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			path := a.Package.Name
			if path == "" {
				return nil, fmt.Errorf("%s: affected package without a name", e.ID)
			}
			m := modules[path]
			if m == nil {
				m = &moduleMeta{Path: path}
				modules[path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFix(a.Ranges)})
		}
		b, err := json.Marshal(e.raw)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.ID, err)
		}
		files["ID/"+e.ID+".json"] = b
	}

	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })

	for name, v := range map[string]any{"index/db.json": db, "index/modules.json": mods, "index/vulns.json": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		files[name] = b
	}
	return files, nil
}

// latestFix is the highest "fixed" event of the SEMVER ranges, or "" when
// some range introduces the bug again after it (nothing fixes it for good).
func latestFix(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, ev := range r.Events {
			if ev.Fixed != "" && semverLess(latest, ev.Fixed) {
				latest = ev.Fixed
			}
		}
		for _, ev := range r.Events {
			if ev.Introduced != "" && ev.Introduced != "0" && semverLess(latest, ev.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

func countModules(entries []*osvEntry) int {
	seen := map[string]bool{}
	for _, e := range entries {
		for _, a := range e.Affected {
			seen[a.Package.Name] = true
		}
	}
	return len(seen)
}

// writeDB writes files into a fresh directory beside out and renames it into
// place, so govulncheck never sees a half-written database.
func writeDB(out string, files map[string][]byte) error {
	out = filepath.Clean(out)
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return fmt.Errorf("create parent of %s: %w", out, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return fmt.Errorf("create temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range sortedKeys(files) {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, files[name], 0o600); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("remove old %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("move database into %s: %w", out, err)
	}
	return nil
}

// digest hashes every path and content in order: equal digests mean
// byte-identical databases.
func digest(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range sortedKeys(files) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
