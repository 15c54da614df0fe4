package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// echFixture adds to a fixture directory a certificate for the public name
// and two ECH key files for it.
func echFixture(t *testing.T) string {
	t.Helper()
	dir := fixtureDir(t)
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	pub, err := ca.IssueServer("public.example")
	require.NoError(t, err)
	require.NoError(t, pub.WriteFiles(filepath.Join(dir, "public.pem"), filepath.Join(dir, "public-key.pem")))
	for i, name := range []string{"ech1.pem", "ech2.pem"} {
		k, err := certs.NewECHKey(certs.ECHKeyOptions{PublicName: "public.example", ConfigID: uint8(i)})
		require.NoError(t, err)
		require.NoError(t, certs.WriteECHKeyFile(filepath.Join(dir, name), k))
	}
	return dir
}

const echListener = `        - cert: server.pem
          key: server-key.pem
`

func withECH(certificates, ech string) string {
	return strings.Replace(goodConfig, echListener, certificates+"      ech:\n"+ech, 1)
}

func TestECHKeys(t *testing.T) {
	dir := echFixture(t)
	both := echListener + "        - {cert: public.pem, key: public-key.pem}\n"

	c, err := Parse("gantry.yaml", dir, []byte(withECH(both, "        keys: [ech1.pem, ech2.pem]\n")))
	require.NoError(t, err)
	keys := c.ServerTLS(0).ECHKeys
	require.Len(t, keys, 2)
	assert.True(t, keys[0].SendAsRetry)
	assert.False(t, keys[1].SendAsRetry, "by default only the first key is sent as retry config")

	c, err = Parse("gantry.yaml", dir, []byte(withECH(both, "        keys: [ech1.pem, ech2.pem]\n        send_as_retry: all\n")))
	require.NoError(t, err)
	assert.True(t, c.ServerTLS(0).ECHKeys[1].SendAsRetry)

	text := withECH(echListener, "        keys:\n          - ech1.pem\n")
	_, err = Parse("gantry.yaml", dir, []byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`gantry.yaml:%d: listeners[0].tls.ech.keys[0]: ECH key 0: no certificate covers its public name "public.example"`, lineOf(text, "- ech1.pem")))

	text = withECH(both, "        keys: [ech1.pem]\n        send_as_retry: current\n")
	_, err = Parse("gantry.yaml", dir, []byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`gantry.yaml:%d: listeners[0].tls.ech.send_as_retry`, lineOf(text, "send_as_retry")))
	assert.Contains(t, err.Error(), "want first or all")

	text = withECH(both, "        keys:\n          - ech1.pem\n          - missing.pem\n")
	_, err = Parse("gantry.yaml", dir, []byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("gantry.yaml:%d: listeners[0].tls.ech.keys[1]: file %s does not exist", lineOf(text, "- missing.pem"), filepath.Join(dir, "missing.pem")))
	assert.NotContains(t, err.Error(), "PRIVATE KEY")
}
