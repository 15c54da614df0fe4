package proxy

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// TestListenerServesFromFiles: a listener given certificate files compiles
// its TLS server through certs, so a reload of those files (no trigger is
// wired yet; the test calls it) changes what new clients get while a
// client connected before keeps its connection.
func TestListenerServesFromFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dir := t.TempDir()
		ca, err := certs.NewDevCA()
		require.NoError(t, err)
		pair := certs.KeyPair{Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem")}
		issue := func() {
			leaf, err := ca.IssueServer("localhost")
			require.NoError(t, err)
			require.NoError(t, leaf.WriteFiles(pair.Cert, pair.Key))
		}
		issue()

		o := newOrigin(t, nil, false, false)
		ltls := &ListenerTLS{Backend: backend, Files: certs.ServerFiles{Certificates: []certs.KeyPair{pair}}}
		p, addr := startProxy(t, simpleOptions(t, o, ltls, nil))

		roots := x509.NewCertPool()
		roots.AddCert(ca.Certificate())
		dial := func() *stdtls.Conn {
			c, err := stdtls.Dial("tcp", addr, &stdtls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		serial := func(c *stdtls.Conn) string {
			return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		}
		before := dial()
		first := serial(before)

		issue()
		src, ok := p.listeners[0].tlsServer.(*certs.Server)
		require.True(t, ok, "a listener with files must serve through certs.Server, got %T", p.listeners[0].tlsServer)
		require.NoError(t, src.Reload())

		after := dial()
		assert.NotEqual(t, first, serial(after), "a client after the reload gets the new certificate")
		for _, c := range []*stdtls.Conn{before, after} {
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			body, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.Contains(t, string(body), "HTTP/1.1 200")
		}
	})
}
