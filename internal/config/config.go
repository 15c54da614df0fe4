package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/proxy"
)

// Config is a whole Gantry configuration file. The sections that configure
// the proxy are the proxy's own option structs, decoded straight from YAML
// by their yaml tags, so a field cannot exist in one place and be missing
// in the other; this package adds only what belongs to the process (the
// identity to drop to, logging, metrics). docs/CONFIG.md documents every
// key, and a test fails when one is missing there.
type Config struct {
	Server    Server                                 `yaml:"server"`
	Listeners []proxy.ListenerOptions                `yaml:"listeners"`
	Routes    []proxy.RouteOptions                   `yaml:"routes"`
	Upstreams map[string]*proxy.UpstreamGroupOptions `yaml:"upstreams"`
	Logging   Logging                                `yaml:"logging"`
	Metrics   Metrics                                `yaml:"metrics"`

	// File is the path the config was read from, as given.
	File string `yaml:"-"`

	// dir resolves relative file names: they are relative to the config
	// file, not to the working directory, so a config means the same
	// wherever gantry is started from.
	dir   string
	lines map[string]int
	// Built by validation, so that Options never fails on I/O.
	loaded loaded
}

// loaded is what validation read from disk and resolved.
type loaded struct {
	identity Identity
	// keyGuard checks every key file, from server.key_permissions and
	// the identity.
	keyGuard certs.KeyGuard
	// warnings are the problems accepted rather than refused, placed as
	// errors are ("file:line: key: ...").
	warnings []string
}

// Warnings returns what loading accepted but an operator should fix (key
// files others can read, under server.key_permissions: warn), each placed
// as an error is: "FILE:LINE: KEY: problem". gantry check prints them and
// gantry serve logs them.
func (c *Config) Warnings() []string { return c.loaded.warnings }

// Server holds the proxy-wide settings and the process identity.
type Server struct {
	// User and Group (user, group) are the identity to switch to once the
	// listeners are bound. Empty keeps the current one.
	User  string `yaml:"user"`
	Group string `yaml:"group"`
	// PIDFile (pid_file) is where the serving process writes its pid; it
	// follows the process across upgrades. Empty writes none.
	PIDFile string `yaml:"pid_file"`
	// ControlSocket (control_socket) is the Unix socket `gantry reload`
	// and `gantry upgrade` talk to, and over which an upgrade hands the
	// listening sockets to the new process. Empty disables both commands
	// (signals still work).
	ControlSocket string `yaml:"control_socket"`
	// KeyPermissions (key_permissions) is refuse (the default: a private
	// key file readable by group or others, or owned by a user other than
	// root, the one Gantry starts as and server.user, is an error) or warn
	// (such a file is loaded, and Warnings reports it), for containers
	// that mount secrets 0644.
	KeyPermissions string `yaml:"key_permissions"`
	// WatchFiles (watch_files) reloads certificate, key, CA, CRL and ticket
	// key files when they change on disk.
	WatchFiles WatchFiles `yaml:"watch_files"`

	Limits   proxy.Limits            `yaml:"limits"`
	Timeouts proxy.Timeouts          `yaml:"timeouts"`
	Connect  proxy.ConnectOptions    `yaml:"connect"`
	Filter   proxy.ConnFilterOptions `yaml:"filter"`
	DNS      proxy.DNSOptions        `yaml:"dns"`
	// Forwarding is the proxy's owned headers and trusted proxies.
	Forwarding proxy.ForwardingOptions `yaml:"forwarding"`
}

// WatchFiles says whether and how often the serving process looks for
// changed certificate files.
type WatchFiles struct {
	// Enabled (enabled) defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Interval (interval) between looks; DefaultWatchInterval when unset.
	Interval time.Duration `yaml:"interval"`
}

// DefaultWatchInterval is how often changed certificate files are looked
// for: soon enough that a renewed or revoked certificate takes effect
// within seconds, rare enough to cost nothing.
const DefaultWatchInterval = 2 * time.Second

// On reports whether watching is on and the interval, defaults applied.
func (w WatchFiles) On() (time.Duration, bool) {
	d := w.Interval
	if d == 0 {
		d = DefaultWatchInterval
	}
	return d, w.Enabled == nil || *w.Enabled
}

// Logging configures operational and access logs.
type Logging struct {
	// Level (level) of the operational log: debug, info, warn or error.
	Level string `yaml:"level"`
	// Format (format) of both logs: json or text.
	Format string `yaml:"format"`
	// AccessLog (access_log) defaults to true.
	AccessLog *bool `yaml:"access_log"`
	// AccessLogFile (access_log_file) writes the access log to this file
	// (appending, created 0640) instead of stdout; SIGUSR1 reopens it, for
	// logrotate.
	AccessLogFile string `yaml:"access_log_file"`
	// AccessLogHeaders (access_log_headers) are request headers written
	// into each access-log record; sensitive ones appear as [REDACTED].
	AccessLogHeaders []string `yaml:"access_log_headers"`
	// RedactHeaders (redact_headers) are extra header names whose values
	// are never logged.
	RedactHeaders []string `yaml:"redact_headers"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Address to serve /metrics on; empty means no metrics endpoint.
	Address string `yaml:"address"`
}

// Load reads, decodes and validates the config file at path, loading every
// certificate, key and CA file it names.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, filepath.Dir(path), data)
}

// Parse decodes and validates data as if read from file name; relative file
// names in it are resolved against dir.
func Parse(name, dir string, data []byte) (*Config, error) {
	c := &Config{File: name, dir: dir, lines: map[string]int{}}
	errs := &errorList{file: name, lines: c.lines}
	if err := decodeInto(c, data, errs); err != nil {
		return nil, err
	}
	if errs.decodeOnly() {
		return nil, errs.err()
	}
	c.validate(errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeInto(c *Config, data []byte, errs *errorList) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			errs.add("", errors.New("config is empty"))
			return errs.err()
		}
		return syntaxError(errs.file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		errs.add("", errors.New("more than one YAML document; a config file holds exactly one"))
		return errs.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	errs.lines[""] = root.Line
	d := &decoder{errorList: errs}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	return nil
}

// Line returns the line of a dotted key in the file, or of its nearest
// present ancestor, so callers can point at a config key in their own
// messages.
func (c *Config) Line(key string) int {
	l := &errorList{lines: c.lines}
	return l.lineOf(key)
}

// path resolves a file name from the config (pid file, control socket):
// relative names are relative to the config file's directory.
func (c *Config) path(name string) string {
	if name == "" || filepath.IsAbs(name) || c.dir == "" {
		return name
	}
	return filepath.Join(c.dir, name)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError moves the line number yaml puts in its message to where
// every other config error has it: "file:LINE: ...".
func syntaxError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Err: fmt.Errorf("YAML syntax: %s", m[2])}
	}
	return &Error{File: file, Err: err}
}
