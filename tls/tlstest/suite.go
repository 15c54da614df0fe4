package tlstest

import (
	"testing"

	"github.com/gantry-proxy/gantry/tls"
)

// group is a named set of cases; Run runs each group and each case as
// subtests, so `-run 'TestConformance/ClientAuth'` picks one group.
type group struct {
	name  string
	cases []testCase
}

type testCase struct {
	name string
	run  func(t *testing.T, b tls.Backend)
}

// Run runs the conformance suite against b, which plays both roles: every
// case puts a server of b and a client of b (or a raw crypto/tls adversary)
// on either end of a loopback connection. A backend is conformant when
// every subtest passes under -race.
func Run(t *testing.T, b tls.Backend) {
	NewPKI(t) // mint before the first timed-out case can be blamed for it
	groups := []group{
		{"Backend", backendCases()},
		{"Version", versionCases()},
		{"Policy", policyCases()},
		{"Group", groupCases(b)},
		{"ALPN", alpnCases()},
		{"SNI", sniCases()},
		{"Keys", keyCases()},
		{"ClientAuth", clientAuthCases()},
		{"Authorize", authorizeCases()},
		{"Verify", verifyCases()},
		{"Resumption", resumptionCases()},
		{"TicketKeys", ticketKeyCases()},
		{"Close", closeCases()},
		{"Deadline", deadlineCases()},
		{"Stream", streamCases()},
		{"Abort", abortCases()},
		{"Garbage", garbageCases()},
		{"Config", configCases()},
		{"ECH", echCases()},
		{"CT", ctCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, b) })
			}
		})
	}
}
