package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

const (
	echPublic = "public.example" // what the wire shows
	echSecret = "secret.example" // what the client asks for, encrypted
)

// echKeyCLI runs `gantry certs ech` into dir/name and returns the
// ECHConfigList it printed, decoded.
func echKeyCLI(t *testing.T, dir, name string, id int) []byte {
	t.Helper()
	out := filepath.Join(dir, name)
	_, stdout := certsCLI(t, "ech", "--public-name", echPublic, "--out", out, "--config-id", fmt.Sprint(id))
	m := regexp.MustCompile(`ECHConfigList: (\S+)`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	assert.Contains(t, stdout, "IN HTTPS 1 . alpn=h2,http/1.1 ech="+m[1]+"\n")
	assertMode(t, out, 0o600)
	list, err := base64.StdEncoding.DecodeString(m[1])
	require.NoError(t, err)
	return list
}

// echFiles writes into a new directory certificates for the public and the
// secret name, and the CA that issued them.
func echFiles(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	for name, host := range map[string]string{"public": echPublic, "secret": echSecret} {
		is, err := ca.IssueServer(host)
		require.NoError(t, err)
		require.NoError(t, is.WriteFiles(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	return dir, roots
}

// echConfig is a listener with both certificates and ECH keys on backend,
// routing the secret name to one origin and everything else to another.
func echConfig(backend, keys, secretOrigin, publicOrigin string) string {
	return echConfigAt("127.0.0.1:0", backend, keys, secretOrigin, publicOrigin)
}

func echConfigAt(addr, backend, keys, secretOrigin, publicOrigin string) string {
	return fmt.Sprintf(`listeners:
  - name: ech
    address: %s
    tls:
      backend: %s
      certificates:
        - {cert: public.pem, key: public-key.pem}
        - {cert: secret.pem, key: secret-key.pem}
      ech:
        keys: %s
routes:
  - host: %s
    upstream: secret
  - upstream: public
upstreams:
  secret: {addresses: [%q]}
  public: {addresses: [%q]}
logging: {format: json}
`, addr, backend, keys, echSecret, secretOrigin, publicOrigin)
}

// tee forwards connections to target and keeps, per connection, every
// byte the client sent.
type tee struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	sent   []*bytes.Buffer // one per accepted connection, in order
}

func startTee(t *testing.T, target string) *tee {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tt := &tee{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close() })
	go tt.serve()
	return tt
}

func (tt *tee) serve() {
	for {
		c, err := tt.ln.Accept()
		if err != nil {
			return
		}
		sent := new(bytes.Buffer)
		tt.mu.Lock()
		tt.sent = append(tt.sent, sent)
		tt.mu.Unlock()
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", tt.target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					tt.mu.Lock()
					sent.Write(buf[:n])
					tt.mu.Unlock()
					if _, werr := up.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// last returns what the client of the latest connection has sent so far:
// after its handshake, at least its whole ClientHello, since the tee keeps
// bytes before it forwards them.
func (tt *tee) last() []byte {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if len(tt.sent) == 0 {
		return nil
	}
	return bytes.Clone(tt.sent[len(tt.sent)-1].Bytes())
}

// helloOnWire reads the first ClientHello of a client's bytes: its SNI and
// whether it carries an encrypted_client_hello extension (0xfe0d).
func helloOnWire(t *testing.T, wire []byte) (sni string, ech bool) {
	t.Helper()
	s := cryptobyte.String(wire)
	var typ uint8
	var version uint16
	var record, hello cryptobyte.String
	require.True(t, s.ReadUint8(&typ) && s.ReadUint16(&version) && s.ReadUint16LengthPrefixed(&record), "a TLS record")
	require.Equal(t, uint8(22), typ, "a handshake record")
	var msgType uint8
	require.True(t, record.ReadUint8(&msgType) && record.ReadUint24LengthPrefixed(&hello), "a whole ClientHello in the first record")
	require.Equal(t, uint8(1), msgType, "a ClientHello")
	var legacy uint16
	var random, session, suites, compression, exts cryptobyte.String
	require.True(t, hello.ReadUint16(&legacy) && hello.ReadBytes((*[]byte)(&random), 32) &&
		hello.ReadUint8LengthPrefixed(&session) && hello.ReadUint16LengthPrefixed(&suites) &&
		hello.ReadUint8LengthPrefixed(&compression) && hello.ReadUint16LengthPrefixed(&exts))
	for !exts.Empty() {
		var extType uint16
		var data cryptobyte.String
		require.True(t, exts.ReadUint16(&extType) && exts.ReadUint16LengthPrefixed(&data))
		switch extType {
		case 0: // server_name
			var names cryptobyte.String
			var nameType uint8
			var name cryptobyte.String
			require.True(t, data.ReadUint16LengthPrefixed(&names) && names.ReadUint8(&nameType) && names.ReadUint16LengthPrefixed(&name))
			sni = string(name)
		case 0xfe0d:
			ech = true
		}
	}
	return sni, ech
}

// TestECHThroughBinary: keys made by `gantry certs ech`, served by `gantry
// serve` on gostd. A crypto/tls client offering the printed config for
// the secret name gets ECH; the wire shows only the public name; the
// secret name picks the certificate, the route and the access log's sni.
// Both keys decrypt; a config no key knows gets the current one as retry
// config, and the retry succeeds.
func TestECHThroughBinary(t *testing.T) {
	dir, roots := echFiles(t)
	current := echKeyCLI(t, dir, "ech-new.pem", 1)
	previous := echKeyCLI(t, dir, "ech-old.pem", 2)
	stale := echKeyCLI(t, dir, "ech-stale.pem", 3)

	origin := func(body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	file := filepath.Join(dir, "gantry.yaml")
	secretOrigin, publicOrigin := origin("secret origin"), origin("public origin")
	// A fixed port, so that the reload below keeps the listener's socket.
	addr := freeAddr(t)
	require.NoError(t, writeFile(file, []byte(echConfigAt(addr, "gostd", "[ech-new.pem, ech-old.pem]", secretOrigin, publicOrigin))))
	code, stdout, stderr := runGantry(t, "check", "-c", file)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)

	p := start(t, "serve", "-c", file)
	m := regexp.MustCompile(`listener "ech" on https://(\S+) `).FindStringSubmatch(p.waitLine(t, "listener "))
	require.NotNil(t, m)
	assert.Contains(t, p.waitLine(t, "ECH:"), "ECH: 2 key(s), public name "+echPublic+", retry configs: first")
	wire := startTee(t, m[1])

	dial := func(list []byte) (*tls.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		raw, err := net.Dial("tcp", wire.ln.Addr().String())
		require.NoError(t, err)
		c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: echSecret, NextProtos: []string{"http/1.1"},
			EncryptedClientHelloConfigList: list})
		if err := c.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return c, nil
	}
	request := func(c *tls.Conn) string {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+echSecret+"\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		resp, err := io.ReadAll(c)
		require.NoError(t, err)
		return string(resp)
	}

	for name, list := range map[string][]byte{"current": current, "previous": previous} {
		c, err := dial(list)
		require.NoError(t, err, name)
		state := c.ConnectionState()
		assert.True(t, state.ECHAccepted, name)
		assert.Equal(t, []string{echSecret}, state.PeerCertificates[0].DNSNames, "%s: the inner name picked the certificate", name)
		assert.Contains(t, request(c), "secret origin", name)

		sent := wire.last()
		sni, ech := helloOnWire(t, sent)
		assert.Equal(t, echPublic, sni, "%s: the outer ClientHello names the public name", name)
		assert.True(t, ech, "%s: and carries the encrypted one", name)
		assert.False(t, bytes.Contains(sent, []byte(echSecret)), "%s: the secret name never crossed the wire in the clear", name)
	}

	_, err := dial(stale)
	var rejected *tls.ECHRejectionError
	require.True(t, errors.As(err, &rejected), "a stale config is rejected with retry configs; got %v", err)
	assert.Equal(t, current, rejected.RetryConfigList, "send_as_retry first: the current key's config alone")
	sni, _ := helloOnWire(t, wire.last())
	assert.Equal(t, echPublic, sni)
	c, err := dial(rejected.RetryConfigList)
	require.NoError(t, err, "the retry with the configs the server sent")
	assert.True(t, c.ConnectionState().ECHAccepted)
	assert.Contains(t, request(c), "secret origin")

	// Rotation: a new key first, the current one kept, and a reload. The
	// new config decrypts, the kept one too, the dropped one gets the new
	// config as retry.
	next := echKeyCLI(t, dir, "ech-next.pem", 4)
	require.NoError(t, writeFile(file, []byte(echConfigAt(addr, "gostd", "[ech-next.pem, ech-new.pem]", secretOrigin, publicOrigin))))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the reload", func() bool { return strings.Contains(p.out(), "reload: new config serving") })
	for name, list := range map[string][]byte{"next": next, "kept": current} {
		c, err := dial(list)
		require.NoError(t, err, name)
		assert.True(t, c.ConnectionState().ECHAccepted, name)
		_ = c.Close()
	}
	_, err = dial(previous)
	require.True(t, errors.As(err, &rejected), "the dropped key no longer decrypts; got %v", err)
	assert.Equal(t, next, rejected.RetryConfigList, "the new current key is the retry config")

	waitFor(t, "the access log records the inner name and ECH", func() bool {
		for _, line := range strings.Split(p.out(), "\n") {
			if strings.Contains(line, `"sni":"`+echSecret+`"`) && strings.Contains(line, `"ech":true`) && strings.Contains(line, `"upstream":"secret"`) {
				return true
			}
		}
		return false
	})
	assert.NotContains(t, p.out(), "PRIVATE KEY")
}

// TestECHCheck: `gantry check` takes ECH keys on gostd, refuses a key
// whose public name no certificate covers, and refuses keys on the C
// backends, at check and at start, with the reason.
func TestECHCheck(t *testing.T) {
	dir, _ := echFiles(t)
	echKeyCLI(t, dir, "ech.pem", 7)
	file := filepath.Join(dir, "gantry.yaml")
	keysLine := 10 // "        keys: [ech.pem]"

	uncovered := strings.Replace(echConfig("gostd", "[ech.pem]", "127.0.0.1:9", "127.0.0.1:9"),
		"        - {cert: public.pem, key: public-key.pem}\n", "", 1)
	require.NoError(t, writeFile(file, []byte(uncovered)))
	code, _, stderr := runGantry(t, "check", "-c", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, fmt.Sprintf(`%s:%d: listeners[0].tls.ech.keys[0]: ECH key 0: no certificate covers its public name "%s"`, file, keysLine-1, echPublic))

	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			require.NoError(t, writeFile(file, []byte(echConfig(backend, "[ech.pem]", "127.0.0.1:9", "127.0.0.1:9"))))
			code, stdout, stderr := runGantry(t, "check", "-c", file)
			if backend == gantrytls.DefaultBackend {
				assert.Equal(t, 0, code, "stderr: %s", stderr)
				assert.Equal(t, "ok: 1 listener, 2 routes\n", stdout)
				return
			}
			want := fmt.Sprintf("%s:%d: listeners[0].tls.ech.keys: backend %s: this backend has no server-side ECH (Encrypted ClientHello) here; use backend gostd", file, keysLine, backend)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, want)
			p := start(t, "serve", "-c", file)
			assert.Equal(t, 1, p.wait(t))
			assert.Contains(t, p.out(), want)
		})
	}
}
