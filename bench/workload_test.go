package bench

import (
	stdtls "crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

// startTestServer serves the bench protocol in-process with gostd, on a
// certificate made by makeCerts; kind "hello" is the ECDSA one behind the
// ClientHello reader.
func startTestServer(t *testing.T, kind string) string {
	t.Helper()
	ec, rsa, err := makeCerts(t.TempDir())
	require.NoError(t, err)
	files := ec
	if kind == "rsa" {
		files = rsa
	}
	cert, err := certs.LoadKeyPair(files.Cert, files.Key)
	require.NoError(t, err)
	b, err := tls.Lookup("gostd")
	require.NoError(t, err)
	srv, err := b.NewServer(&tls.ServerConfig{Certificates: []tls.Certificate{cert}, Policy: tls.PolicyIntermediate})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
	})
	go acceptLoop(ln, srv, make([]byte, replySize), make([]byte, bulkChunk), kind == "hello")
	return ln.Addr().String()
}

func clientConfig(version uint16) *stdtls.Config {
	return &stdtls.Config{
		InsecureSkipVerify: true,
		ServerName:         "localhost",
		CurvePreferences:   []stdtls.CurveID{stdtls.X25519, stdtls.CurveP256},
		MinVersion:         version,
		MaxVersion:         version,
	}
}

func TestHandshakeLoad(t *testing.T) {
	tests := []struct {
		name    string
		cert    string
		version uint16
		resume  bool
	}{
		{"full ecdsa 1.3", "ecdsa", stdtls.VersionTLS13, false},
		{"full rsa 1.2", "rsa", stdtls.VersionTLS12, false},
		{"resume ecdsa 1.3", "ecdsa", stdtls.VersionTLS13, true},
		{"resume ecdsa 1.2", "ecdsa", stdtls.VersionTLS12, true},
		{"full ecdsa 1.3 behind the ClientHello reader", "hello", stdtls.VersionTLS13, false},
		{"full ecdsa 1.2 behind the ClientHello reader", "hello", stdtls.VersionTLS12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startTestServer(t, tt.cert)
			res := handshakeLoad(stdWorkers(addr, clientConfig(tt.version), tt.resume), 2, 100*time.Millisecond, 300*time.Millisecond)
			require.Positive(t, res.OK, "first error: %s", res.FirstErr)
			assert.Zero(t, res.Errors, res.FirstErr)
			assert.Equal(t, res.OK, res.Full+res.Resumed)
			if tt.resume {
				assert.Positive(t, res.Resumed, "a warmed-up worker resumes")
			} else {
				assert.Zero(t, res.Resumed, "no session cache, no resumption")
			}
			assert.Positive(t, res.Rate)
			if !tt.resume || tt.version == stdtls.VersionTLS13 {
				assert.Equal(t, "X25519", res.Group, "the load side offers one key share, X25519")
			}
		})
	}
}

func TestHandshakeLoadCountsErrors(t *testing.T) {
	// A listener that closes every connection: every handshake fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	res := handshakeLoad(stdWorkers(ln.Addr().String(), clientConfig(stdtls.VersionTLS13), false), 1, 0, 100*time.Millisecond)
	assert.Zero(t, res.OK)
	assert.Positive(t, res.Errors)
	assert.NotEmpty(t, res.FirstErr)
}

func TestBulkLoad(t *testing.T) {
	addr := startTestServer(t, "ecdsa")
	res := bulkLoad(addr, clientConfig(stdtls.VersionTLS13), 2, 50*time.Millisecond, 200*time.Millisecond)
	assert.Equal(t, int64(2), res.OK, res.FirstErr)
	assert.Positive(t, res.Bytes)
	assert.Positive(t, res.MBps)
}

func TestIdleLoad(t *testing.T) {
	addr := startTestServer(t, "ecdsa")
	res, held, err := idleLoad(addr, clientConfig(stdtls.VersionTLS13), 20, 4)
	require.NoError(t, err)
	assert.Equal(t, int64(20), res.OK)
	assert.Len(t, held, 20)
	for _, c := range held {
		assert.NoError(t, c.Close())
	}
	_, _, err = idleLoad("127.0.0.1:1", clientConfig(stdtls.VersionTLS13), 2, 1)
	assert.Error(t, err, "nothing listens on port 1")
}

func TestMakeCerts(t *testing.T) {
	ec, rsa, err := makeCerts(t.TempDir())
	require.NoError(t, err)
	for _, f := range []certFiles{ec, rsa} {
		c, err := certs.LoadKeyPair(f.Cert, f.Key)
		require.NoError(t, err)
		assert.Contains(t, c.Leaf.DNSNames, "localhost")
		_, err = certs.LoadKeyPair(f.PEM, f.PEM)
		assert.NoError(t, err, "the combined PEM holds chain and key")
	}
}

func TestChildProcess(t *testing.T) {
	c, err := startChild("echo", "", "sh", "-c", "echo ready one; echo second; exec sleep 30")
	require.NoError(t, err)
	line, err := c.readLine(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ready one", line)
	assert.Equal(t, "one", fieldValue("ready x=1 "+"origin=one", "origin"))
	line, err = c.readLine(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "second", line)
	rss, err := rssKiB(c.pid())
	require.NoError(t, err)
	assert.Positive(t, rss)
	c.stop()
	assert.False(t, c.alive(), "stop reaps the process")

	// A process that exits before answering: the error carries its stderr.
	d, err := startChild("failer", "", "sh", "-c", "echo boom >&2; exit 3")
	require.NoError(t, err)
	_, err = d.readLine(10 * time.Second)
	assert.ErrorContains(t, err, "boom")
	d.stop()
}

func TestRaiseNofile(t *testing.T) {
	n, err := RaiseNofile()
	require.NoError(t, err)
	assert.Positive(t, n)
}
