package e2e

import (
	"bufio"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// persistentConn is one TLS connection that sends request after request,
// to show that what happens on disk leaves an open connection alone.
type persistentConn struct {
	c  *stdtls.Conn
	br *bufio.Reader
}

func (pc *persistentConn) get(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	require.NoError(t, pc.c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err := io.WriteString(pc.c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(pc.br, nil)
	require.NoError(t, err, "the open connection still serves")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return fmt.Sprintf("%d %s", resp.StatusCode, b), pc.c.ConnectionState().PeerCertificates[0]
}

// watchEnv is a listener with mTLS whose files the test changes under a
// running gantry.
type watchEnv struct {
	*opsEnv
	roots *x509.CertPool // the server CA of the moment
}

func (w *watchEnv) dial(t *testing.T, client *certs.Issued) (*persistentConn, error) {
	t.Helper()
	cfg := &stdtls.Config{RootCAs: w.roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	if client != nil {
		c, err := client.Certificate()
		require.NoError(t, err)
		cfg.Certificates = []stdtls.Certificate{{Certificate: c.Chain, PrivateKey: c.Key}}
	}
	c, err := stdtls.Dial("tcp", w.addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	pc := &persistentConn{c: c, br: bufio.NewReader(c)}
	// A TLS 1.3 client learns of a refusal on its first read.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(pc.br, nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return pc, nil
}

// until waits, bounded, for a new connection of client to be let in (want
// true) or refused (want false): the watcher acts within a few intervals.
func (w *watchEnv) until(t *testing.T, what string, client *certs.Issued, want bool) {
	t.Helper()
	waitFor(t, what, func() bool {
		pc, err := w.dial(t, client)
		if pc != nil {
			_ = pc.c.Close()
		}
		return (err == nil) == want
	})
}

// replace writes data to name the way editors do: a new file renamed over
// the old one.
func replace(t *testing.T, name string, data []byte) {
	t.Helper()
	tmp := name + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, name))
}

// TestCertificateFilesWatched changes a running listener's client CA, CRL
// and server certificate on disk, each the way it happens in practice (an
// editor's rename, a write in place, a Kubernetes secret's link swap), and
// a broken file among them: each change takes effect for new connections
// without a restart or a reload command, an open connection goes on
// serving through all of them, and the broken file keeps the previous set,
// on every backend.
func TestCertificateFilesWatched(t *testing.T) {
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			w := &watchEnv{opsEnv: newOpsEnv(t)}
			dir := w.dir
			// The server certificate sits in a secret volume: server.pem
			// and server-key.pem are links through ..data into a
			// directory that an update replaces whole.
			serverCA, err := certs.NewCA("Watch Server CA", false)
			require.NoError(t, err)
			w.roots = x509.NewCertPool()
			w.roots.AddCert(serverCA.Certificate())
			leaves := map[string]*certs.Issued{}
			for _, v := range []string{"v1", "v2"} {
				leaves[v], err = serverCA.IssueServer("localhost")
				require.NoError(t, err)
				require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o700))
				require.NoError(t, leaves[v].WriteFiles(filepath.Join(dir, v, "server.pem"), filepath.Join(dir, v, "server-key.pem")))
			}
			require.NoError(t, os.Symlink("v1", filepath.Join(dir, "..data")))
			for _, f := range []string{"server.pem", "server-key.pem"} {
				require.NoError(t, os.Remove(filepath.Join(dir, f)))
				require.NoError(t, os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)))
			}

			caA, err := certs.NewCA("Clients A", false)
			require.NoError(t, err)
			caB, err := certs.NewCA("Clients B", false)
			require.NoError(t, err)
			alice, err := caA.IssueClient("alice")
			require.NoError(t, err)
			bob, err := caB.IssueClient("bob")
			require.NoError(t, err)
			crlOf := func(revoked ...*big.Int) []byte {
				crl, err := caA.CRL(revoked, time.Now().Add(time.Hour))
				require.NoError(t, err)
				return crl
			}
			require.NoError(t, writeFile(filepath.Join(dir, "clients-ca.pem"), caA.CertPEM()))
			require.NoError(t, writeFile(filepath.Join(dir, "clients.crl"), crlOf()))

			cfg := strings.Replace(w.config("a"), "      certificates: [{cert: server.pem, key: server-key.pem}]\n",
				fmt.Sprintf("      backend: %s\n      certificates: [{cert: server.pem, key: server-key.pem}]\n"+
					"      client_auth: {mode: require-and-verify, ca: clients-ca.pem, crls: [clients.crl]}\n", backend), 1)
			cfg = strings.Replace(cfg, "server:\n", "server:\n  watch_files: {interval: 200ms}\n", 1)
			w.write(t, cfg)
			p := w.serve(t)
			pid := w.pid(t)

			open, err := w.dial(t, alice)
			require.NoError(t, err, "alice's CA is trusted")
			body, leaf := open.get(t)
			assert.Equal(t, "200 A", body)
			assert.Equal(t, leaves["v1"].Cert.SerialNumber, leaf.SerialNumber)
			_, err = w.dial(t, bob)
			require.Error(t, err, "bob's CA is not trusted yet")

			// A new CA bundle, written by rename.
			replace(t, filepath.Join(dir, "clients-ca.pem"), append(caA.CertPEM(), caB.CertPEM()...))
			w.until(t, "bob let in by the new CA file", bob, true)
			body, _ = open.get(t)
			assert.Equal(t, "200 A", body, "alice's open connection is untouched")

			// Alice revoked, the CRL written in place.
			require.NoError(t, os.WriteFile(filepath.Join(dir, "clients.crl"), crlOf(alice.Cert.SerialNumber), 0o600))
			w.until(t, "alice refused by the new CRL", alice, false)
			body, _ = open.get(t)
			assert.Equal(t, "200 A", body, "a connection made before the revocation is not cut by it")

			// A half-written CA file is refused: bob, trusted by the set
			// in force, stays in.
			whole := append(caA.CertPEM(), caB.CertPEM()...)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "clients-ca.pem"), whole[:len(whole)*3/4], 0o600))
			waitFor(t, "the broken CA file refused and counted", func() bool {
				_, m := w.scrape("/metrics")
				return strings.Contains(m, `gantry_certificate_reloads_total{result="error"} `) &&
					!strings.Contains(m, `gantry_certificate_reloads_total{result="error"} 0`)
			})
			_, err = w.dial(t, bob)
			assert.NoError(t, err, "the previous CA set keeps serving")
			out := p.out()
			assert.Contains(t, out, "certificate reload refused; the previous certificates keep serving")
			assert.Contains(t, out, "client_auth.ca", "the log names the file's key")
			assert.NotContains(t, out, "BEGIN", "no PEM reaches the log")

			// The CA file mended, then the server certificate renewed by
			// the secret volume's link swap.
			replace(t, filepath.Join(dir, "clients-ca.pem"), whole)
			require.NoError(t, os.Symlink("v2", filepath.Join(dir, "..data_tmp")))
			require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
			waitFor(t, "the renewed server certificate served", func() bool {
				pc, err := w.dial(t, bob)
				if err != nil {
					return false
				}
				defer pc.c.Close()
				return pc.c.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(leaves["v2"].Cert.SerialNumber) == 0
			})
			body, leaf = open.get(t)
			assert.Equal(t, "200 A", body)
			assert.Equal(t, leaves["v1"].Cert.SerialNumber, leaf.SerialNumber, "the open connection keeps its certificate")
			_, m := w.scrape("/metrics")
			assert.Contains(t, m, leaves["v2"].Cert.SerialNumber.Text(16), "the expiry gauge follows the renewed certificate")
			assert.NotContains(t, m, leaves["v1"].Cert.SerialNumber.Text(16))
			for _, ca := range []*certs.DevCA{caA, caB} {
				assert.Contains(t, m, fmt.Sprintf(`role="client_ca",serial=%q`, ca.Certificate().SerialNumber.Text(16)), "the client CAs' expiry is watched too")
			}
			assert.Equal(t, pid, w.pid(t), "all of it without a restart")
		})
	}
}

// TestUpstreamClientCertificateWatched: the client certificate Gantry
// shows an upstream is renewed on disk (rename over the old files) and new
// upstream connections present the new one, without a restart, on every
// backend.
func TestUpstreamClientCertificateWatched(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	leaf, err := ca.IssueServer("localhost")
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A new upstream connection for every request, so each shows the
		// client certificate of the moment.
		w.Header().Set("Connection", "close")
		fmt.Fprintf(w, "client=%s", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	origin.TLS = &stdtls.Config{
		Certificates: []stdtls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}},
		ClientAuth:   stdtls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	origin.StartTLS()
	t.Cleanup(origin.Close)

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			e := newOpsEnv(t)
			old, err := ca.IssueClient("gantry-2026")
			require.NoError(t, err)
			require.NoError(t, old.WriteFiles(filepath.Join(e.dir, "up.pem"), filepath.Join(e.dir, "up-key.pem")))
			require.NoError(t, writeFile(filepath.Join(e.dir, "origin-ca.pem"), ca.CertPEM()))
			e.write(t, fmt.Sprintf(`server:
  pid_file: gantry.pid
  control_socket: ctl.sock
  watch_files: {interval: 200ms}
listeners:
  - name: main
    address: %s
    tls: {certificates: [{cert: server.pem, key: server-key.pem}]}
routes: [{upstream: app}]
upstreams:
  app:
    addresses: [%q]
    tls: {backend: %s, ca: origin-ca.pem, server_name: localhost, cert: up.pem, key: up-key.pem}
logging: {access_log: false, format: text}
metrics: {address: %s}
`, e.addr, origin.Listener.Addr().String(), backend, e.metrics))
			e.serve(t)
			pid := e.pid(t)
			assert.Equal(t, "client=gantry-2026", e.get(t))

			renewed, err := ca.IssueClient("gantry-2027")
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, renewed.WriteFiles(filepath.Join(dir, "up.pem"), filepath.Join(dir, "up-key.pem")))
			for _, f := range []string{"up-key.pem", "up.pem"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				replace(t, filepath.Join(e.dir, f), data)
			}
			waitFor(t, "the renewed upstream client certificate shown", func() bool { return e.get(t) == "client=gantry-2027" })
			_, m := e.scrape("/metrics")
			assert.Contains(t, m, fmt.Sprintf(`role="upstream_client",serial=%q`, renewed.Cert.SerialNumber.Text(16)))
			assert.Equal(t, pid, e.pid(t), "without a restart")
		})
	}
}
