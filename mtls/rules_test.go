package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaf makes a certificate signed by a throw-away CA named "Clients CA".
func leaf(t testing.TB, edit func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Clients CA", Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	require.NoError(t, err)
	ca, err = x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0xbeef), Subject: pkix.Name{CommonName: "web"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func withURIs(uris ...string) func(*x509.Certificate) {
	return func(c *x509.Certificate) {
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				panic(err)
			}
			c.URIs = append(c.URIs, u)
		}
	}
}

func mustCompile(t *testing.T, r Rules) *Policy {
	t.Helper()
	p, err := Compile(r)
	require.NoError(t, err)
	require.NotNil(t, p)
	return p
}

func TestURIPatterns(t *testing.T) {
	cases := []struct {
		pattern, san string
		ok           bool
	}{
		{"spiffe://example.org/ns/prod/sa/web", "spiffe://example.org/ns/prod/sa/web", true},
		{"spiffe://example.org/ns/prod/sa/web", "spiffe://example.org/ns/prod/sa/api", false},
		{"spiffe://example.org/ns/prod/sa/web", "spiffe://example.org/ns/prod/sa/web/x", false},
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/prod/web", true},
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/prod/sa/web", false}, // one segment only
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/prod", false},
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/prod/", false},
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/staging/web", false},
		{"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/prod/sa/web", true},
		{"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/a/b/sa/web", false}, // no match across segments
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/prod/a%2Fb", true},    // %2F stays in its segment
		{"spiffe://example.org/ns/prod/*", "spiffe://example.org/ns/prod%2Fx/web", false},
		{"spiffe://example.org/**", "spiffe://example.org/ns/prod/sa/web", true},
		{"spiffe://example.org/**", "spiffe://example.org/a", true},
		{"spiffe://example.org/**", "spiffe://example.org", false},
		{"spiffe://example.org/**", "spiffe://example.org/", false},
		{"spiffe://example.org/**", "spiffe://example.org/a//b", false},
		{"spiffe://example.org/**", "spiffe://example.org.evil/ns/prod", false},
		{"spiffe://example.org/**", "spiffe://evil.example.org/ns", false},
		{"spiffe://example.org/**", "https://example.org/ns", false},
		{"spiffe://example.org/ns/**", "spiffe://example.org/ns", false},
		{"spiffe://example.org/ns/**", "spiffe://example.org/nsx/a", false},
		{"spiffe://example.org/ns/**", "spiffe://example.org/ns/a/b/c", true},
		{"spiffe://EXAMPLE.org/ns/*", "SPIFFE://example.ORG/ns/a", true},  // scheme and host without case
		{"spiffe://example.org/ns/*", "spiffe://example.org/NS/a", false}, // the path with it
		{"spiffe://example.org/ns/*", "spiffe://example.org/ns/a?x=1", false},
		{"spiffe://example.org/ns/*", "spiffe://example.org/ns/a#f", false},
		{"spiffe://example.org/ns/*", "spiffe://user@example.org/ns/a", false},
		{"spiffe://example.org", "spiffe://example.org", true},
	}
	for _, c := range cases {
		t.Run(c.pattern+" "+c.san, func(t *testing.T) {
			p := mustCompile(t, Rules{URI: []string{c.pattern}})
			want := ReasonURI
			if c.ok {
				want = ""
			}
			assert.Equal(t, want, p.Check(leaf(t, withURIs(c.san))))
		})
	}
}

func TestURIPatternErrors(t *testing.T) {
	for _, bad := range []string{
		"spiffe://example.org/**/web", "spiffe://example.org/prod-*", "spiffe://*.example.org/x",
		"spiffe://example.org/a//b", "/ns/prod", "spiffe://example.org/x?q", "spiffe:opaque",
	} {
		_, err := Compile(Rules{URI: []string{"spiffe://example.org/ok", bad}})
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe, bad) {
			assert.Equal(t, "uri[1]", fe.Field)
		}
	}
}

func TestRuleKinds(t *testing.T) {
	cert := leaf(t, func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "web", Organization: []string{"Example", "Other"}, OrganizationalUnit: []string{"prod"}}
		c.DNSNames = []string{"web.prod.example.com", "Web.Example.COM."}
		c.EmailAddresses = []string{"Ops@Example.com"}
	})
	cases := []struct {
		name  string
		rules Rules
		want  Reason
	}{
		{"dns exact", Rules{DNS: []string{"other.example.com", "web.example.com"}}, ""},
		{"dns wildcard one label", Rules{DNS: []string{"*.prod.example.com"}}, ""},
		{"dns wildcard not two labels", Rules{DNS: []string{"*.example.com"}}, ""}, // Web.Example.COM is one label under example.com
		{"dns wildcard miss", Rules{DNS: []string{"*.staging.example.com"}}, ReasonDNS},
		{"dns miss", Rules{DNS: []string{"prod.example.com"}}, ReasonDNS},
		{"email", Rules{Email: []string{"ops@example.com"}}, ""},
		{"email domain", Rules{Email: []string{"@example.com"}}, ""},
		{"email miss", Rules{Email: []string{"@example.org", "dev@example.com"}}, ReasonEmail},
		{"cn", Rules{CN: []string{"api", "web"}}, ""},
		{"cn is exact", Rules{CN: []string{"Web"}}, ReasonCN},
		{"o any value", Rules{O: []string{"Other"}}, ""},
		{"o miss", Rules{O: []string{"Evil"}}, ReasonO},
		{"ou", Rules{OU: []string{"prod"}}, ""},
		{"ou miss", Rules{OU: []string{"staging"}}, ReasonOU},
		{"issuer cn", Rules{Issuer: []string{"Clients CA"}}, ""},
		{"issuer dn", Rules{Issuer: []string{"CN=Clients CA,O=Example"}}, ""},
		{"issuer dn is whole", Rules{Issuer: []string{"CN=Clients CA"}}, ReasonIssuer},
		{"issuer miss", Rules{Issuer: []string{"Other CA"}}, ReasonIssuer},
		{"all: first failing kind", Rules{CN: []string{"web"}, OU: []string{"staging"}, DNS: []string{"nope"}}, ReasonDNS},
		{"all: every kind matches", Rules{CN: []string{"web"}, OU: []string{"prod"}, Email: []string{"@example.com"}}, ""},
		{"any: one is enough", Rules{Match: MatchAny, CN: []string{"api"}, OU: []string{"prod"}}, ""},
		{"any: none", Rules{Match: MatchAny, CN: []string{"api"}, OU: []string{"staging"}}, ReasonNoneMatched},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, mustCompile(t, c.rules).Check(cert))
		})
	}
	deep := leaf(t, func(c *x509.Certificate) { c.DNSNames = []string{"web.prod.example.com"} })
	assert.Equal(t, ReasonDNS, mustCompile(t, Rules{DNS: []string{"*.example.com"}}).Check(deep), "a wildcard is one label")
	assert.Equal(t, ReasonNoCertificate, mustCompile(t, Rules{CN: []string{"web"}}).Check(nil))
	var none *Policy
	assert.Equal(t, Reason(""), none.Check(nil), "no rules allow anything")
	p, err := Compile(Rules{Match: MatchAny})
	assert.NoError(t, err)
	assert.Nil(t, p)
	_, err = Compile(Rules{Match: "most", CN: []string{"x"}})
	assert.ErrorContains(t, err, "match")
}

func TestSPKIPin(t *testing.T) {
	cert := leaf(t, nil)
	other := leaf(t, nil)
	sum := SPKIHash(cert)
	hexPin := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(hexPin); i += 2 {
		colons = append(colons, strings.ToUpper(hexPin[i:i+2]))
	}
	for _, pin := range []string{hexPin, strings.Join(colons, ":"), base64.StdEncoding.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:])} {
		p := mustCompile(t, Rules{SPKISHA256: []string{pin}})
		assert.Equal(t, Reason(""), p.Check(cert), pin)
		assert.Equal(t, ReasonSPKI, p.Check(other), pin)
	}
	// The pin is on the key, not the certificate: a new certificate for
	// the same key passes, which is what makes a pin survive renewal.
	for _, bad := range []string{"abcd", hexPin[:62], base64.StdEncoding.EncodeToString(sum[:31]), strings.Repeat("zz", 32)} {
		_, err := Compile(Rules{SPKISHA256: []string{bad}})
		assert.Error(t, err, bad)
	}
}

func TestCompileErrors(t *testing.T) {
	for field, r := range map[string]Rules{
		"dns[0]":    {DNS: []string{"a.*.example.com"}},
		"email[0]":  {Email: []string{"nobody"}},
		"cn[1]":     {CN: []string{"a", ""}},
		"issuer[0]": {Issuer: []string{""}},
	} {
		_, err := Compile(r)
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe, field) {
			assert.Equal(t, field, fe.Field)
		}
	}
	o := Options{Allow: Rules{CN: []string{""}}}
	var fe *FieldError
	require.ErrorAs(t, o.Validate(), &fe)
	assert.Equal(t, "allow.cn[0]", fe.Field)
	o = Options{Forward: Forward{XFCCChain: true}}
	require.ErrorAs(t, o.Validate(), &fe)
	assert.Equal(t, "forward.xfcc_chain", fe.Field)
}

func TestIdentity(t *testing.T) {
	cert := leaf(t, func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "web", OrganizationalUnit: []string{"prod"}}
		c.DNSNames = []string{"web.example.com"}
		withURIs("spiffe://example.org/ns/prod/web")(c)
	})
	id := NewIdentity(cert)
	sum := SPKIHash(cert)
	assert.Equal(t, "CN=web,OU=prod", id.Subject)
	assert.Equal(t, "CN=Clients CA,O=Example", id.Issuer)
	assert.Equal(t, "beef", id.Serial)
	assert.Equal(t, hex.EncodeToString(sum[:]), id.SPKISHA256)
	assert.Equal(t, []string{"web.example.com"}, id.DNS)
	assert.Equal(t, []string{"spiffe://example.org/ns/prod/web"}, id.URI)
}

// BenchmarkCheck is the identity check a listener with rules runs once per
// handshake, with a typical rule set: a SPIFFE URI pattern, an issuer and
// a pin list, all of which match (the slowest path: every kind is read).
func BenchmarkCheck(b *testing.B) {
	cert := leaf(b, withURIs("spiffe://example.org/ns/prod/sa/web"))
	sum := SPKIHash(cert)
	p, err := Compile(Rules{
		URI:        []string{"spiffe://example.org/ns/staging/**", "spiffe://example.org/ns/prod/sa/*"},
		Issuer:     []string{"Clients CA"},
		SPKISHA256: []string{strings.Repeat("00", 32), hex.EncodeToString(sum[:])},
	})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Check(cert); r != "" {
			b.Fatal(r)
		}
	}
}

// BenchmarkNewIdentity is the per-connection cost of describing a verified
// client for hooks and the access log.
func BenchmarkNewIdentity(b *testing.B) {
	cert := leaf(b, withURIs("spiffe://example.org/ns/prod/sa/web"))
	b.ReportAllocs()
	for b.Loop() {
		_ = NewIdentity(cert)
	}
}
