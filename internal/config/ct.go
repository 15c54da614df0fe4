package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// upstreamCT reads the key files of an upstream's Certificate Transparency
// logs into their Key, so that the tls package, which reads no files,
// parses every key the same way. The keys are checked with the rest of the
// client config.
func (c *Config) upstreamCT(errs *errorList, key string, p *gantrytls.CTPolicy) {
	if p == nil {
		return
	}
	for i := range p.Logs {
		l := &p.Logs[i]
		field := fmt.Sprintf("%s.logs[%d]", key, i)
		if l.KeyFile == "" {
			continue
		}
		if l.Key != "" {
			errs.addf(field+".key_file", "log %q has both key and key_file: set one", l.Name)
			continue
		}
		name := l.KeyFile
		if !filepath.IsAbs(name) {
			name = filepath.Join(c.dir, name)
		}
		data, err := os.ReadFile(name) // #nosec G304 -- a file the config names
		if err != nil {
			errs.addf(field+".key_file", "log %q: %w", l.Name, err)
			continue
		}
		l.Key = keyFileText(data)
	}
}

// keyFileText is a key file as the tls package takes a key: PEM and
// base64 text as they are, DER as base64.
func keyFileText(data []byte) string {
	text := strings.TrimSpace(string(data))
	if strings.Contains(text, "-----BEGIN") {
		return text
	}
	if _, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), "")); err == nil && text != "" {
		return text
	}
	return base64.StdEncoding.EncodeToString(data)
}
