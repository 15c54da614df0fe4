//go:build boringssl

package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/gantry-proxy/gantry/tls/boring"
)

// TestBoringSSLRefusesTLS13SuiteSubset: BoringSSL has no setting for the
// TLS 1.3 suites, so narrowing them on a boringssl listener is refused at
// the key and line, not accepted and silently ignored.
func TestBoringSSLRefusesTLS13SuiteSubset(t *testing.T) {
	dir := fixtureDir(t)
	text := strings.Replace(goodConfig, "      backend: gostd\n      policy: modern\n      groups: [X25519, P-256]",
		"      backend: boringssl\n      policy: modern\n      cipher_suites: [TLS_AES_128_GCM_SHA256]", 1)
	require.NotEqual(t, goodConfig, text)
	_, err := Parse("gantry.yaml", dir, []byte(text))
	require.Error(t, err)
	var ce *Error
	require.True(t, errors.As(err, &ce), "error %v is not a *config.Error", err)
	assert.Equal(t, "listeners[0].tls.cipher_suites", ce.Key)
	assert.Equal(t, lineOf(text, "cipher_suites:"), ce.Line)
	assert.Contains(t, ce.Error(), "backend boringssl")
}
