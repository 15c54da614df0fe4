package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stream is a govulncheck -format json stream with one advisory found three
// ways: in a required module, in an imported package, and called.
const stream = `{"config": {"protocol_version": "v1.0.0", "go_version": "go1.26.8"}}
{"osv": {"id": "GO-2024-2687", "summary": "HTTP/2 CONTINUATION flood in net/http"}}
{"osv": {"id": "GO-2026-6809", "summary": "Distrust compromised intermediates"}}
{"finding": {"osv": "GO-2024-2687", "fixed_version": "v0.23.0", "trace": [{"module": "golang.org/x/net", "version": "v0.22.0"}]}}
{"finding": {"osv": "GO-2024-2687", "fixed_version": "v0.23.0", "trace": [{"module": "golang.org/x/net", "version": "v0.22.0", "package": "golang.org/x/net/http2"}]}}
{"finding": {"osv": "GO-2024-2687", "fixed_version": "v0.23.0", "trace": [{"module": "golang.org/x/net", "version": "v0.22.0", "package": "golang.org/x/net/http2", "function": "ServeConn", "receiver": "*Server"}, {"module": "example.com/m", "package": "example.com/m", "function": "main"}]}}
{"finding": {"osv": "GO-2026-6809", "fixed_version": "v1.26.10", "trace": [{"module": "stdlib", "version": "v1.26.8", "package": "crypto/x509"}]}}
`

func gate(t *testing.T, input, accept string) (int, string, error) {
	t.Helper()
	args := []string{"-label", "test"}
	if accept != "" {
		p := filepath.Join(t.TempDir(), "accept.txt")
		require.NoError(t, os.WriteFile(p, []byte(accept), 0o600))
		args = append(args, "-accept", p)
	}
	var out strings.Builder
	code, err := run(args, strings.NewReader(input), &out)
	return code, out.String(), err
}

func TestGate(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		code         int
		report       string
	}{
		{"reachable fails", "", 1, "FAIL reachable GO-2024-2687 golang.org/x/net@v0.22.0"},
		{"accepted for its module passes", "# why\nGO-2024-2687 golang.org/x/net test fixture\n", 0, "ACCEPTED reachable GO-2024-2687"},
		{"accepted for another module still fails", "GO-2024-2687 stdlib not this one\n", 1, "FAIL reachable GO-2024-2687"},
		{"imported but not called passes", "GO-2024-2687 golang.org/x/net test fixture\n", 0, "1 present but not called"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, report, err := gate(t, stream, tc.accept)
			require.NoError(t, err)
			assert.Equal(t, tc.code, code, report)
			assert.Contains(t, report, tc.report)
		})
	}
	t.Run("the called symbol is named", func(t *testing.T) {
		_, report, err := gate(t, stream, "")
		require.NoError(t, err)
		assert.Contains(t, report, "via golang.org/x/net/http2.Server.ServeConn")
	})
}

func TestGateRefusesBadInput(t *testing.T) {
	for _, tc := range []struct{ name, input, accept string }{
		{"empty stream", "", ""},
		{"truncated stream", stream[:len(stream)/2], ""},
		{"acceptance without a reason", stream, "GO-2024-2687 golang.org/x/net\n"},
		{"malformed ID", stream, "CVE-2024-1 golang.org/x/net reason\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := gate(t, tc.input, tc.accept)
			assert.Error(t, err)
		})
	}
}
