package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// TestMatrix: every downstream backend × upstream backend × protocol on each
// side gets the right answer.
func TestMatrix(t *testing.T) {
	backends := gantrytls.Names()
	require.NotEmpty(t, backends)
	type upstreamKind struct {
		name    string
		tls, h2 bool
	}
	kinds := []upstreamKind{{"plain-h1", false, false}, {"tls-h1", true, false}, {"tls-h2", true, true}}
	for _, down := range backends {
		for _, up := range backends {
			for _, k := range kinds {
				if !k.tls && up != backends[0] {
					continue // plain upstreams have no backend
				}
				for _, h2 := range []bool{false, true} {
					name := fmt.Sprintf("down=%s/up=%s/%s/h2down=%v", down, up, k.name, h2)
					t.Run(name, func(t *testing.T) {
						o := newOrigin(t, nil, k.tls, k.h2)
						var utls *UpstreamTLS
						if k.tls {
							alpn := []string{"http/1.1"}
							if k.h2 {
								alpn = []string{"h2", "http/1.1"}
							}
							utls = upstreamTLS(t, up, alpn...)
						}
						_, addr := startProxy(t, simpleOptions(t, o, serverTLS(t, down), utls))
						c := client(t, h2)
						for i := range 3 {
							body := fmt.Sprintf("body-%d", i)
							resp, err := c.Post("https://"+addr+"/echo?x=1", "text/plain", strings.NewReader(body))
							require.NoError(t, err)
							b, err := io.ReadAll(resp.Body)
							resp.Body.Close()
							require.NoError(t, err)
							assert.Equal(t, http.StatusOK, resp.StatusCode)
							assert.Equal(t, "hello POST /echo?x=1 "+body, string(b))
							if h2 {
								assert.Equal(t, 2, resp.ProtoMajor)
							} else {
								assert.Equal(t, 1, resp.ProtoMajor)
							}
							if k.h2 {
								assert.Equal(t, "HTTP/2.0", resp.Header.Get("X-Origin-Proto"))
							} else {
								assert.Equal(t, "HTTP/1.1", resp.Header.Get("X-Origin-Proto"))
							}
							assert.Equal(t, "127.0.0.1", resp.Header.Get("X-Got-XFF"))
							assert.Equal(t, "https", resp.Header.Get("X-Got-XFP"))
							assert.Contains(t, resp.Header.Get("Via"), "gantry")
						}
						assert.EqualValues(t, 1, o.conns.Load(), "sequential requests reuse one upstream connection")
					})
				}
			}
		}
	}
}
