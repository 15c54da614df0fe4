package e2e

import (
	stdtls "crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/certs"
)

// TestIdentityRuleKinds drives the identity rule kinds and forwarding keys
// the matrix leaves out, through the binary: dns, email, o and ou with
// match any on one listener; issuer and ou with match all on another,
// which also forwards Client-Cert-Chain and X-Forwarded-Client-Cert with
// its Cert and Chain.
func TestIdentityRuleKinds(t *testing.T) {
	e := newOpsEnv(t)
	root, err := certs.NewCA("Kinds Root", true)
	require.NoError(t, err)
	inter, err := root.IssueIntermediate("Kinds Issuing CA")
	require.NoError(t, err)
	issue := func(ca *certs.DevCA, o certs.ClientOptions) stdtls.Certificate {
		t.Helper()
		i, err := ca.IssueClientWith(o)
		require.NoError(t, err)
		c, err := i.Certificate()
		require.NoError(t, err)
		return stdtls.Certificate{Certificate: c.Chain, PrivateKey: c.Key, Leaf: i.Cert}
	}
	clients := map[string]stdtls.Certificate{
		"dns":   issue(inter, certs.ClientOptions{CommonName: "d", DNSNames: []string{"web.example.com"}}),
		"email": issue(inter, certs.ClientOptions{CommonName: "e", EmailAddresses: []string{"ops@example.com"}}),
		"ou":    issue(inter, certs.ClientOptions{CommonName: "u", OrganizationalUnits: []string{"payments"}}),
		"o":     issue(inter, certs.ClientOptions{CommonName: "o", Organizations: []string{"Example Corp"}}),
		"none":  issue(inter, certs.ClientOptions{CommonName: "n", DNSNames: []string{"web.example.org"}}),
		"root":  issue(root, certs.ClientOptions{CommonName: "r", OrganizationalUnits: []string{"payments"}}),
	}
	require.NoError(t, writeFile(filepath.Join(e.dir, "clients-ca.pem"), root.CertPEM()))
	origin := recordingOrigin(t, "app")
	anyAddr, allAddr := freeAddr(t), freeAddr(t)
	e.write(t, fmt.Sprintf(`server:
  pid_file: gantry.pid
  control_socket: ctl.sock
listeners:
  - name: any
    address: %s
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: clients-ca.pem}
      client_identity:
        allow:
          match: any
          dns: ["*.example.com"]
          email: ["@example.com"]
          o: [Example Corp]
          ou: [payments]
  - name: all
    address: %s
    tls:
      certificates: [{cert: server.pem, key: server-key.pem}]
      client_auth: {mode: require-and-verify, ca: clients-ca.pem}
      client_identity:
        allow: {match: all, issuer: [Kinds Issuing CA], ou: [payments]}
        forward: {client_cert_chain: true, xfcc: true, xfcc_cert: true, xfcc_chain: true}
routes: [{upstream: app}]
upstreams:
  app: {addresses: [%q]}
logging: {access_log: false, format: text}
metrics: {address: %s}
`, anyAddr, allAddr, origin.Listener.Addr().String(), e.metrics))
	e.serve(t)

	get := func(addr, who string) (map[string][]string, error) {
		tr := &http.Transport{TLSClientConfig: &stdtls.Config{RootCAs: e.roots, ServerName: "localhost",
			Certificates: []stdtls.Certificate{clients[who]}}, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		resp, err := c.Get("https://" + addr + "/")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		var s seen
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
		return s.Headers, nil
	}
	for _, who := range []string{"dns", "email", "o", "ou"} {
		_, err := get(anyAddr, who)
		assert.NoError(t, err, "match any: %s alone is enough", who)
	}
	_, err = get(anyAddr, "none")
	assert.Error(t, err, "match any: a client matching no kind is refused")

	h, err := get(allAddr, "ou")
	require.NoError(t, err, "match all: issuer and ou both match")
	for _, who := range []string{"dns", "root"} {
		_, err := get(allAddr, who)
		assert.Error(t, err, "match all: %s misses one kind", who)
	}
	interDER := clients["ou"].Certificate[1]
	assert.Equal(t, []string{":" + base64.StdEncoding.EncodeToString(interDER) + ":"}, h["client-cert-chain"],
		"the chain between the leaf and the anchor: the intermediate")
	require.Len(t, h["x-forwarded-client-cert"], 1)
	xfcc := h["x-forwarded-client-cert"][0]
	for _, part := range []string{"Hash=", `Subject="CN=u,OU=payments"`, `Cert="`, `Chain="`} {
		assert.Contains(t, xfcc, part)
	}
	assert.True(t, strings.Count(xfcc, "BEGIN%20CERTIFICATE") >= 2, "Cert and Chain are URL-encoded PEM: %s", xfcc)
}
