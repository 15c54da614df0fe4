package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelloKeys(t *testing.T) {
	dir := fixtureDir(t)
	good := smallWith("      sni: {allow: [API.example.com, \"*.apps.example\"], missing: refuse}\n", "")
	c, err := Parse("gantry.yaml", dir, []byte(good))
	require.NoError(t, err)
	assert.Equal(t, "refuse", c.Listeners[0].TLS.SNI.Missing)

	withFilter := strings.Replace(smallConfig, "    keepalive_idle: 2m\n", "    keepalive_idle: 2m\n  filter:\n    ja4:\n      deny: [t13d1516h2_8daaf6152771_e5627efa2ab1, nonsense]\n", 1)
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad sni entry", smallWith("      sni: {allow: [ok.example, \"a.*.example\"]}\n", ""), "gantry.yaml:11: listeners[0].tls.sni.allow[1]:"},
		{"bad missing", smallWith("      sni: {missing: maybe}\n", ""), "listeners[0].tls.sni.missing: \"maybe\" (want allow or refuse)"},
		{"inspection off under sni", smallWith("      inspect_hello: false\n      sni: {allow: [a.example]}\n", ""), "listeners[0].tls.inspect_hello: is false, but sni (line 12)"},
		{"bad ja4", strings.Replace(withFilter, "LISTENER_EXTRA\n", "", 1), "server.filter.ja4.deny[1]: \"nonsense\" is not a JA4 fingerprint"},
		{"inspection off under ja4", strings.Replace(withFilter, "LISTENER_EXTRA\n", "      inspect_hello: false\n", 1), "listeners[0].tls.inspect_hello: is false, but server.filter.ja4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(tc.yaml, "LOGGING_EXTRA\n", "", 1)
			_, err := Parse("gantry.yaml", dir, []byte(text))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
