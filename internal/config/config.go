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

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Config is a whole Gantry configuration file. Field comments give the YAML
// key; docs/CONFIG.md documents each key with its default.
type Config struct {
	Server    Server               `yaml:"server"`
	Listeners []Listener           `yaml:"listeners"`
	Routes    []Route              `yaml:"routes"`
	Upstreams map[string]*Upstream `yaml:"upstreams"`
	Logging   Logging              `yaml:"logging"`
	Metrics   Metrics              `yaml:"metrics"`

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

// loaded is what validation read from disk and compiled.
type loaded struct {
	listeners []gantrytls.ServerConfig
	upstreams map[string]*gantrytls.ClientConfig
	identity  Identity
}

// Server holds process-wide settings.
type Server struct {
	// User and Group (user, group) are the identity to switch to once the
	// listeners are bound. Empty keeps the current one.
	User  string `yaml:"user"`
	Group string `yaml:"group"`

	Limits   Limits   `yaml:"limits"`
	Timeouts Timeouts `yaml:"timeouts"`
	Connect  Connect  `yaml:"connect"`
}

// Limits bound what one client may send.
type Limits struct {
	MaxHeaderBytes         int    `yaml:"max_header_bytes"`
	MaxHeaderCount         int    `yaml:"max_header_count"`
	MaxBodyBytes           int64  `yaml:"max_body_bytes"`
	H2MaxConcurrentStreams uint32 `yaml:"h2_max_concurrent_streams"`
	MaxConns               int    `yaml:"max_conns"`
}

// Timeouts are all finite: a key left out takes its default, and zero or a
// negative duration is an error.
type Timeouts struct {
	TLSHandshake           time.Duration `yaml:"tls_handshake"`
	RequestHeader          time.Duration `yaml:"request_header"`
	RequestBody            time.Duration `yaml:"request_body"`
	ResponseWrite          time.Duration `yaml:"response_write"`
	KeepaliveIdle          time.Duration `yaml:"keepalive_idle"`
	H2StreamIdle           time.Duration `yaml:"h2_stream_idle"`
	UpstreamConnect        time.Duration `yaml:"upstream_connect"`
	UpstreamTLSHandshake   time.Duration `yaml:"upstream_tls_handshake"`
	UpstreamResponseHeader time.Duration `yaml:"upstream_response_header"`
	UpstreamRead           time.Duration `yaml:"upstream_read"`
	UpstreamWrite          time.Duration `yaml:"upstream_write"`
	ShutdownGrace          time.Duration `yaml:"shutdown_grace"`
}

// DefaultTimeouts are the values of keys left out of server.timeouts.
var DefaultTimeouts = Timeouts{
	TLSHandshake:           10 * time.Second,
	RequestHeader:          10 * time.Second,
	RequestBody:            60 * time.Second,
	ResponseWrite:          60 * time.Second,
	KeepaliveIdle:          60 * time.Second,
	H2StreamIdle:           60 * time.Second,
	UpstreamConnect:        5 * time.Second,
	UpstreamTLSHandshake:   10 * time.Second,
	UpstreamResponseHeader: 60 * time.Second,
	UpstreamRead:           60 * time.Second,
	UpstreamWrite:          60 * time.Second,
	ShutdownGrace:          30 * time.Second,
}

// Connect is the CONNECT policy: off unless allow is true.
type Connect struct {
	Allow bool  `yaml:"allow"`
	Ports []int `yaml:"ports"`
}

// Listener is one downstream TLS socket.
type Listener struct {
	Name    string      `yaml:"name"`
	Address string      `yaml:"address"`
	TLS     ListenerTLS `yaml:"tls"`
	// Timeouts (timeouts) override server.timeouts for this listener's
	// client connections. Only the downstream keys are allowed; a key left
	// out is zero here and inherits the server-wide value.
	Timeouts Timeouts `yaml:"timeouts"`
}

// ListenerTLS is the server side of TLS on a listener.
type ListenerTLS struct {
	Backend          string         `yaml:"backend"`
	Policy           string         `yaml:"policy"`
	CipherSuites     []string       `yaml:"cipher_suites"`
	Groups           []string       `yaml:"groups"`
	Certificates     []CertKey      `yaml:"certificates"`
	ALPN             []string       `yaml:"alpn"`
	ClientAuth       ClientAuth     `yaml:"client_auth"`
	SessionTickets   SessionTickets `yaml:"session_tickets"`
	HandshakeTimeout time.Duration  `yaml:"handshake_timeout"`
}

// CertKey is a PEM certificate chain file and its PEM private key file.
type CertKey struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// ClientAuth is the listener's client-certificate policy.
type ClientAuth struct {
	// Mode is none, request, require, verify-if-given or
	// require-and-verify.
	Mode string `yaml:"mode"`
	// CA is a PEM file of the roots client certificates must chain to.
	CA string `yaml:"ca"`
}

// SessionTickets controls TLS resumption by ticket.
type SessionTickets struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// KeyFiles each hold one 32-byte key (raw, hex or base64). The first
	// encrypts; all decrypt. Empty means random keys per process.
	KeyFiles []string `yaml:"key_files"`
}

// Route sends requests matching host and path_prefix to an upstream.
type Route struct {
	Host       string `yaml:"host"`
	PathPrefix string `yaml:"path_prefix"`
	Upstream   string `yaml:"upstream"`
}

// Upstream is a named group of interchangeable origin servers.
type Upstream struct {
	Addresses       []string      `yaml:"addresses"`
	Balance         string        `yaml:"balance"`
	Health          Health        `yaml:"health"`
	TLS             *UpstreamTLS  `yaml:"tls"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout"`
}

// Health is passive ejection plus an optional active check.
type Health struct {
	MaxFails int           `yaml:"max_fails"`
	EjectFor time.Duration `yaml:"eject_for"`
	Check    *HealthCheck  `yaml:"check"`
}

// HealthCheck is an active probe of each server.
type HealthCheck struct {
	Path         string        `yaml:"path"`
	Interval     time.Duration `yaml:"interval"`
	Timeout      time.Duration `yaml:"timeout"`
	ExpectStatus int           `yaml:"expect_status"`
}

// UpstreamTLS is the client side of TLS towards an upstream group. Its
// presence means the group is dialled over TLS.
type UpstreamTLS struct {
	Backend    string `yaml:"backend"`
	ServerName string `yaml:"server_name"`
	// VerifyCert and VerifyHostname default to true.
	VerifyCert     *bool    `yaml:"verify_cert"`
	VerifyHostname *bool    `yaml:"verify_hostname"`
	CA             string   `yaml:"ca"`
	Cert           string   `yaml:"cert"`
	Key            string   `yaml:"key"`
	ALPN           []string `yaml:"alpn"`
	Policy         string   `yaml:"policy"`
}

// Logging configures operational and access logs.
type Logging struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	// AccessLog defaults to true.
	AccessLog *bool `yaml:"access_log"`
	// AccessLogHeaders (access_log_headers) are request headers written
	// into each access-log record; sensitive ones appear as [REDACTED].
	AccessLogHeaders []string `yaml:"access_log_headers"`
	RedactHeaders    []string `yaml:"redact_headers"`
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
	if err := errs.err(); err != nil {
		return nil, err
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

// path resolves a file name from the config.
func (c *Config) path(name string) string {
	if filepath.IsAbs(name) || c.dir == "" {
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
