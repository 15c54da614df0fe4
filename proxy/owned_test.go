package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerOrigin answers with every header it received, by lower-case name
// as sent (underscores kept), as JSON.
func headerOrigin(t *testing.T) *origin {
	return newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := map[string][]string{}
		for k, v := range r.Header {
			got[strings.ToLower(k)] = append(got[strings.ToLower(k)], v...)
		}
		_ = json.NewEncoder(w).Encode(got)
	}), false, false)
}

// spoofed is what a client sends to pose as someone else: every owned
// header in its proper spelling, in underscore and mixed-case spellings,
// and the extra owned names.
var spoofed = [][2]string{
	{"X-Forwarded-For", "6.6.6.6"},
	{"X_Forwarded_For", "7.7.7.7"},
	{"X-Real-IP", "6.6.6.6"},
	{"X_Real_IP", "6.6.6.6"},
	{"x_REAL-ip", "6.6.6.6"},
	{"Forwarded", "for=6.6.6.6"},
	{"Via", "1.0 lb"},
	{"X-Forwarded-Proto", "http"},
	{"X_Forwarded_Proto", "ftp"},
	{"X-Forwarded-Host", "evil.example"},
	{"X-Forwarded-Port", "1"},
	{"Client-Cert", ":Zm9v:"},
	{"Client_Cert_Chain", ":Zm9v:"},
	{"X-Forwarded-Client-Cert", "By=spiffe://x"},
	{"X-SSL-Client-Verify", "SUCCESS"},
	{"x_ssl_client_dn", "CN=admin"},
	{"X-Client-Cert-Chain", "x"},
	{"X-Forwarded-Ssl", "on"},
	{"X-Original-URL", "/admin/"},
	{"X-Auth-User", "admin"},
	{"X_Internal_Role", "root"},
	{"X-Kept", "yes"},
}

// TestOwnedHeaders: whatever the client sends, the origin gets only the
// proxy's own values of the owned headers, over HTTP/1.1 and HTTP/2; from a
// trusted proxy the chain is extended instead, but never from an
// underscore spelling.
func TestOwnedHeaders(t *testing.T) {
	o := headerOrigin(t)
	for _, trusted := range []bool{false, true} {
		opts := simpleOptions(t, o, serverTLS(t, ""), nil)
		opts.Forwarding.OwnedHeaders = []string{"X-Auth-User", "X-Internal-*"}
		if trusted {
			opts.Forwarding.TrustedProxies = []string{"127.0.0.0/8"}
		}
		_, addr := startProxy(t, opts)
		port := addr[strings.LastIndexByte(addr, ':')+1:]
		for _, h2 := range []bool{false, true} {
			name := map[bool]string{false: "untrusted", true: "trusted"}[trusted] + map[bool]string{false: "/HTTP1.1", true: "/HTTP2"}[h2]
			t.Run(name, func(t *testing.T) {
				req, err := http.NewRequest("GET", "https://"+addr+"/", nil)
				require.NoError(t, err)
				for _, kv := range spoofed {
					req.Header[kv[0]] = append(req.Header[kv[0]], kv[1]) // as spelled, no canonicalisation
				}
				resp, err := client(t, h2).Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				var got map[string][]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))

				via, fwdHost := "1.1 gantry", addr
				if h2 {
					via = "2 gantry"
				}
				want := map[string][]string{
					"x-forwarded-for":   {"127.0.0.1"},
					"x-real-ip":         {"127.0.0.1"},
					"forwarded":         {"for=127.0.0.1;proto=https;host=\"" + fwdHost + "\""},
					"via":               {via},
					"x-forwarded-proto": {"https"},
					"x-forwarded-host":  {fwdHost},
					"x-forwarded-port":  {port},
					"x-kept":            {"yes"},
				}
				if trusted {
					want["x-forwarded-for"] = []string{"6.6.6.6, 127.0.0.1"}
					want["x-real-ip"] = []string{"6.6.6.6"}
					want["forwarded"] = []string{"for=6.6.6.6, " + want["forwarded"][0]}
					want["via"] = []string{"1.0 lb, " + via}
					want["x-forwarded-proto"] = []string{"http"}
					want["x-forwarded-host"] = []string{"evil.example"}
					want["x-forwarded-port"] = []string{"1"}
				}
				for k, v := range want {
					assert.Equal(t, v, got[k], "%s", k)
				}
				for k := range got {
					norm := strings.ReplaceAll(k, "_", "-")
					if _, ok := want[norm]; ok && norm != k {
						t.Errorf("the origin got %q, a spelling of an owned header", k)
					}
					for _, kv := range spoofed {
						n := strings.ReplaceAll(strings.ToLower(kv[0]), "_", "-")
						if norm == n && want[n] == nil {
							t.Errorf("the origin got owned header %q: %q", k, got[k])
						}
					}
				}
			})
		}
	}
}

// TestOwnedHeaderKinds covers the matching rules directly.
func TestOwnedHeaderKinds(t *testing.T) {
	s, err := newOwnedSet(ForwardingOptions{OwnedHeaders: []string{"X-Auth-User", "X-Internal-*"}, TrustedProxies: []string{"10.0.0.0/8"}})
	require.NoError(t, err)
	for name, want := range map[string]ownedKind{
		"X-Forwarded-For": ownedXFF, "x_forwarded_for": ownedXFF, "X-REAL-IP": ownedRealIP, "x_real_ip": ownedRealIP,
		"Client-Cert": ownedStrip, "X-SSL-Client-S-DN": ownedStrip, "x_ssl_client_verify": ownedStrip, "X-Client-Cert": ownedStrip,
		"X-Auth-User": ownedStrip, "x_auth_user": ownedStrip, "X-Internal-Anything": ownedStrip,
		"X-Forwarded": notOwned, "Host": notOwned, "X-Request-Id": notOwned, "Content-Type": notOwned, "Cookie": notOwned,
	} {
		got, _ := s.kind([]byte(name))
		assert.Equal(t, want, got, name)
	}
	_, exact := s.kind([]byte("X_Forwarded_For"))
	assert.False(t, exact)
	assert.Equal(t, "6.6.6.6", string(s.realClient([]byte("1.1.1.1, 6.6.6.6, 10.0.0.2, 10.0.0.1"))))
	assert.Equal(t, "10.0.0.9", string(s.realClient([]byte("10.0.0.9, 10.0.0.1"))))
	_, err = newOwnedSet(ForwardingOptions{TrustedProxies: []string{"10.0.0.0/99"}})
	assert.Error(t, err)
}
