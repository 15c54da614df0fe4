package certs

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// TestServerFilesSCTs: a key pair's scts file is read raw or as base64,
// and a file that is not an SCT list is refused at its field.
func TestServerFilesSCTs(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteDevFiles(dir, nil, "", false)
	require.NoError(t, err)
	kp, err := LoadKeyPair(files.ServerCert, files.ServerKey)
	require.NoError(t, err)
	log, err := tlstest.NewCTLog("a")
	require.NoError(t, err)
	sct, err := log.SCTForCert(kp.Chain[0])
	require.NoError(t, err)
	list, err := gantrytls.JoinSCTList([][]byte{sct})
	require.NoError(t, err)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	load := func(scts string) (ServerSet, error) {
		return ServerFiles{Certificates: []KeyPair{{Cert: files.ServerCert, Key: files.ServerKey, SCTs: scts}}}.Load()
	}
	for name, data := range map[string][]byte{
		"raw.sct":    list,
		"base64.sct": []byte(base64.StdEncoding.EncodeToString(list) + "\n"),
	} {
		set, err := load(write(name, data))
		require.NoError(t, err, name)
		assert.Equal(t, [][]byte{sct}, set.Certificates[0].SCTs, name)
	}
	for name, data := range map[string][]byte{
		"empty.sct":   nil,
		"garbage.sct": []byte("not an SCT list"),
		"notsct.sct":  {0, 3, 0, 1, 7}, // a list whose one entry is no SCT
	} {
		_, err := load(write(name, data))
		var fe *gantrytls.FieldError
		require.ErrorAs(t, err, &fe, name)
		assert.Equal(t, "certificates[0].scts", fe.Field, name)
	}
	_, err = load(filepath.Join(dir, "missing.sct"))
	assert.ErrorContains(t, err, "does not exist")
}
