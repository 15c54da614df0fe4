//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEngineStaplesOCSPBySNI: each certificate's staple goes out with it
// (the engine carries the bytes, Go judges them), a certificate without one
// staples nothing, in TLS 1.2 and 1.3; under -asan this is the shim's
// staple copying checked.
func TestEngineStaplesOCSPBySNI(t *testing.T) {
	a, b, c := selfSigned(t, "a.test"), selfSigned(t, "b.test"), selfSigned(t, "c.test")
	a.OCSP, b.OCSP = bytes.Repeat([]byte("a"), 300), bytes.Repeat([]byte("b"), 300)
	for _, v := range []uint16{0x0303, 0x0304} {
		t.Run(fmt.Sprintf("%x", v), func(t *testing.T) {
			sctx := newContext(t, &ContextConfig{Server: true, MinVersion: v, MaxVersion: v, Certs: []CertKey{a, b, c},
				Select: func(name string) int {
					switch name {
					case "b.test":
						return 1
					case "c.test":
						return 2
					}
					return 0
				}})
			cctx := newContext(t, &ContextConfig{Verify: VerifyPeer, MinVersion: v, MaxVersion: v})
			for sni, want := range map[string][]byte{"a.test": a.OCSP, "b.test": b.OCSP, "c.test": nil, "": a.OCSP} {
				client := newConn(t, cctx, false, sni, accept)
				server := newConn(t, sctx, true, "", accept)
				cst, sst := handshake(t, client, server)
				require.Equal(t, Done, cst.Status, "%v", cst.Err)
				require.Equal(t, Done, sst.Status, "%v", sst.Err)
				assert.EqualValues(t, v, client.State().Version)
				assert.Equal(t, want, client.State().OCSP, "SNI %q", sni)
			}
		})
	}
}
