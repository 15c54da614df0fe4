package config

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// maxSocketPath is the room sun_path leaves for a Unix socket's name
// (108 bytes with its terminating NUL on Linux).
const maxSocketPath = 107

// PIDFilePath is server.pid_file resolved against the config's directory;
// empty when unset.
func (c *Config) PIDFilePath() string { return c.optionalPath(c.Server.PIDFile) }

// ControlSocketPath is server.control_socket resolved against the config's
// directory; empty when unset.
func (c *Config) ControlSocketPath() string { return c.optionalPath(c.Server.ControlSocket) }

// AccessLogPath is logging.access_log_file resolved against the config's
// directory; empty when the access log goes to stdout.
func (c *Config) AccessLogPath() string { return c.optionalPath(c.Logging.AccessLogFile) }

func (c *Config) optionalPath(name string) string {
	if name == "" {
		return ""
	}
	return c.path(name)
}

// validateProcess checks the files the process itself writes: their
// directories must exist, so that a typo fails `gantry check` rather than
// the start (or, worse, the upgrade) of the server.
func (c *Config) validateProcess(errs *errorList) {
	for key, p := range map[string]string{
		"server.pid_file":         c.PIDFilePath(),
		"server.control_socket":   c.ControlSocketPath(),
		"logging.access_log_file": c.AccessLogPath(),
	} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			errs.addf(key, "directory %s does not exist", filepath.Dir(p))
		}
	}
	if p := c.ControlSocketPath(); len(p)+len(".new.0000000") > maxSocketPath {
		// The upgrade binds a sibling name first, hence the margin.
		errs.add("server.control_socket", fmt.Errorf("path %q is too long for a Unix socket (at most %d bytes)", p, maxSocketPath-len(".new.0000000")))
	}
	if c.AccessLogPath() != "" && !c.Logging.AccessLogEnabled() {
		errs.addf("logging.access_log_file", "a file is named but access_log is false: nothing would be written to it")
	}
}

// ControlSocketOf reads only server.control_socket from the file at path,
// without validating the rest: `gantry reload` must find the running
// server even when the file it is about to load has errors, which the
// server then reports.
func ControlSocketOf(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	var doc struct {
		Server struct {
			ControlSocket string `yaml:"control_socket"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", syntaxError(path, err)
	}
	c := &Config{dir: filepath.Dir(path)}
	if doc.Server.ControlSocket == "" {
		return "", &Error{File: path, Key: "server.control_socket", Err: fmt.Errorf("not set: the server has no control socket to reach")}
	}
	return c.path(doc.Server.ControlSocket), nil
}
