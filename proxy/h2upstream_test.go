package proxy

import (
	"bytes"
	stdtls "crypto/tls"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// goAwayOrigin is a fake HTTP/2 origin on x/net's Framer: on its first
// connection it answers the first stream with GOAWAY(last stream 0), which
// tells the client that stream was never processed; every later connection
// answers 200 "ok".
type goAwayOrigin struct {
	ln    net.Listener
	conns atomic.Int64
}

func newGoAwayOrigin(t *testing.T) *goAwayOrigin {
	t.Helper()
	pki := tlstest.NewPKI(t)
	ln, err := stdtls.Listen("tcp", "127.0.0.1:0", &stdtls.Config{
		Certificates: []stdtls.Certificate{stdCert(pki.ServerECDSA)},
		NextProtos:   []string{"h2"},
	})
	require.NoError(t, err)
	o := &goAwayOrigin{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := o.conns.Add(1)
			go o.serve(c, n == 1)
		}
	}()
	return o
}

func (o *goAwayOrigin) serve(c net.Conn, goAway bool) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(c, c)
	if fr.WriteSettings() != nil {
		return
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if goAway {
				// Then wait for the client to hang up: the stream must
				// be retried elsewhere, not here.
				_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				continue
			}
			hbuf.Reset()
			_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			_ = enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "2"})
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hbuf.Bytes(), EndHeaders: true})
			_ = fr.WriteData(f.StreamID, true, []byte("ok"))
		}
	}
}

// TestH2UpstreamGoAwayRetried: an HTTP/2 origin that sends GOAWAY before
// processing a stream has not seen the request: an idempotent request is
// sent again on a new connection, and the client gets the answer, not 502.
func TestH2UpstreamGoAwayRetried(t *testing.T) {
	o := newGoAwayOrigin(t)
	opts := Options{
		Listeners: []ListenerOptions{{Name: "test", Addr: "127.0.0.1:0", TLS: serverTLS(t, "")}},
		Upstreams: map[string]*UpstreamGroupOptions{"app": {
			Addrs: []string{o.ln.Addr().String()},
			TLS:   upstreamTLS(t, "", "h2"),
		}},
		Routes: []RouteOptions{{Upstream: "app"}},
	}
	_, addr := startProxy(t, opts)
	resp, body := get(t, client(t, false), "https://"+addr+"/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", body)
	assert.EqualValues(t, 2, o.conns.Load(), "the request went to a second connection")
}
