package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withCRLFetch adds a crl_fetch block to goodConfig's client_auth.
func withCRLFetch(block string) string {
	return strings.Replace(goodConfig, "        ca: ca.pem\n", "        ca: ca.pem\n        crl_fetch:\n"+block, 1)
}

func TestCRLFetchConfig(t *testing.T) {
	dir := fixtureDir(t)
	text := withCRLFetch("          enabled: true\n          cache_dir: crls\n          timeout: 2s\n          max_bytes: 1048576\n          refresh_before: 30m\n          max_urls: 8\n")
	c, err := Parse("gantry.yaml", dir, []byte(text))
	require.NoError(t, err)
	got := c.Listeners[0].TLS.Files.ClientAuth.CRLFetch
	assert.True(t, got.Enabled)
	assert.Equal(t, filepath.Join(dir, "crls"), got.CacheDir, "relative to the config file")
	assert.Equal(t, 2*time.Second, got.Timeout)
	assert.EqualValues(t, 1<<20, got.MaxBytes)
	assert.Equal(t, 30*time.Minute, got.RefreshBefore)
	assert.Equal(t, 8, got.MaxURLs)
}

func TestCRLFetchConfigErrors(t *testing.T) {
	dir := fixtureDir(t)
	for _, tc := range []struct {
		block, at, key, want string
	}{
		{"          enabled: true\n", "crl_fetch:", "cache_dir", "is required when crl_fetch is enabled"},
		{"          enabled: true\n          cache_dir: crls\n          timeout: 0s\n", "timeout: 0s", "timeout", "must be positive"},
		{"          enabled: true\n          cache_dir: crls\n          max_bytes: -1\n", "max_bytes: -1", "max_bytes", "must be positive"},
		{"          enabled: true\n          cache_dir: crls\n          refresh_before: soon\n", "refresh_before: soon", "refresh_before", "invalid duration"},
		{"          enabled: true\n          cache_dir: crls\n          mirrors: 2\n", "mirrors: 2", "mirrors", "unknown"},
	} {
		text := withCRLFetch(tc.block)
		_, err := Parse("gantry.yaml", dir, []byte(text))
		require.Error(t, err, tc.block)
		assert.Contains(t, err.Error(), fmt.Sprintf("gantry.yaml:%d: listeners[0].tls.client_auth.crl_fetch.%s: ", lineOf(text, tc.at), tc.key), tc.block)
		assert.Contains(t, err.Error(), tc.want, tc.block)
	}
}
