package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// TestCRLExpiredPolicy: with a CRL past its NextUpdate, crl_expired hard
// (the default) refuses every client of its issuer and soft serves them
// with a warning in the log, on every backend, through the binary.
func TestCRLExpiredPolicy(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		for _, policy := range []string{"", "hard", "soft"} {
			name := policy
			if name == "" {
				name = "default"
			}
			t.Run(backend+"/"+name, func(t *testing.T) {
				e := newOpsEnv(t)
				ca, err := certs.NewDevCA()
				require.NoError(t, err)
				client, err := ca.IssueClient("alice")
				require.NoError(t, err)
				require.NoError(t, client.WriteFiles(filepath.Join(e.dir, "alice.pem"), filepath.Join(e.dir, "alice-key.pem")))
				require.NoError(t, writeFile(filepath.Join(e.dir, "client-ca.pem"), ca.CertPEM()))
				stale, err := ca.CRL(nil, time.Now().Add(-time.Hour))
				require.NoError(t, err)
				require.NoError(t, writeFile(filepath.Join(e.dir, "clients.crl"), stale))
				auth := "{mode: require-and-verify, ca: client-ca.pem, crls: [clients.crl]}"
				if policy != "" {
					auth = fmt.Sprintf("{mode: require-and-verify, ca: client-ca.pem, crls: [clients.crl], crl_expired: %s}", policy)
				}
				e.write(t, strings.Replace(e.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
					fmt.Sprintf("      backend: %s\n      certificates: [{cert: server.pem, key: server-key.pem}]\n      client_auth: %s\n", backend, auth), 1))
				p := e.serve(t)

				url := "https://localhost" + e.addr[strings.LastIndex(e.addr, ":"):] + "/"
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				out, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "30", "--cacert", filepath.Join(e.dir, "ca.pem"),
					"--cert", filepath.Join(e.dir, "alice.pem"), "--key", filepath.Join(e.dir, "alice-key.pem"), url).Output()
				if policy == "soft" {
					require.NoError(t, err, "soft: the client is served")
					assert.Equal(t, "A", string(out))
					waitFor(t, "the warning about the stale CRL", func() bool { return strings.Contains(p.out(), "expired") })
					return
				}
				assert.Error(t, err, "hard: without a current list revocation cannot be known, so the client is refused")
				assert.NotContains(t, string(out), "A")
			})
		}
	}
}
