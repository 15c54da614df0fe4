package h2

import (
	"testing"

	"golang.org/x/net/http2"
)

// TestH2WireClientCatchesMismatches: the raw client's expect reports an
// outcome other than the ones wanted, so a conforming answer is what makes
// a table row pass (run against the reference server, whose answers to
// these are known).
func TestH2WireClientCatchesMismatches(t *testing.T) {
	cases := []struct {
		name string
		send func(w *wireClient)
		want []wireOutcome
	}{
		// A 200 is not a stream error.
		{"status instead of RST_STREAM", func(w *wireClient) { w.request(1, true, reqFields("GET", "/")...) },
			[]wireOutcome{wantStreamErr(1, http2.ErrCodeProtocol)}},
		// The right frame with the wrong code.
		{"other RST_STREAM code", func(w *wireClient) { w.request(1, true, reqFields("GET", "/", "X-Up", "1")...) },
			[]wireOutcome{wantStreamErr(1, http2.ErrCodeRefusedStream)}},
		// A stream error is not the PING answer of a silent acceptance.
		{"RST_STREAM before the PING answer", func(w *wireClient) { w.request(1, true, reqFields("GET", "/", "X-Up", "1")...) },
			[]wireOutcome{wantAlive()}},
		// A GOAWAY with another code.
		{"other GOAWAY code", func(w *wireClient) { w.windowUpdate(0, 0) },
			[]wireOutcome{wantConnErr(http2.ErrCodeFlowControl)}},
		// The right status on another stream.
		{"status on another stream", func(w *wireClient) { w.request(3, true, reqFields("GET", "/")...) },
			[]wireOutcome{wantStatus(1, "200")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := startWire(t, xnetServer)
			c.send(w)
			if got, err := w.expectErr(c.want...); err == nil {
				t.Fatalf("expect(%v) accepted %v", c.want, got)
			} else {
				t.Logf("caught: %v", err)
			}
		})
	}
}
