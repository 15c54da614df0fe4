package metrics

import (
	"testing"

	"github.com/gantry-proxy/gantry/proxy/listen"
)

func TestClientHelloRefused(t *testing.T) {
	m := New(Build{})
	m.ClientHelloRefused("public", listen.ReasonSNINotAllowed)
	m.ClientHelloRefused("public", listen.ReasonSNINotAllowed)
	m.ClientHelloRefused("public", listen.ReasonJA4Denied)
	m.ClientHelloRefused("public", "evil.example") // never a label value
	text := scrape(t, m)
	for _, want := range []string{
		`gantry_client_hello_refusals_total{listener="public",reason="sni_not_allowed"} 2`,
		`gantry_client_hello_refusals_total{listener="public",reason="ja4_denied"} 1`,
		`gantry_client_hello_refusals_total{listener="public",reason="other"} 1`,
	} {
		assertSeries(t, text, want)
	}
}
