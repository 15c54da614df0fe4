package h2

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// The stream-idle tracker reads what clients send, so it must survive any
// bytes: random input in random pieces never grows its table past the
// bound, and outbound bytes only ever change where an RST_STREAM's
// INTERNAL_ERROR becomes CANCEL.
func TestH2IdleCancelRandomInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	patched := 0
	for round := range 200 {
		c := newIdleCancel(time.Nanosecond)
		// Client frames after the preface; every fourth round is pure noise.
		var in []byte
		if round%4 == 0 {
			in = make([]byte, rng.IntN(64<<10))
			for i := range in {
				in[i] = byte(rng.UintN(256))
			}
		} else {
			in = append(in, http2.ClientPreface...)
			for range rng.IntN(2000) {
				stream := uint32(rng.IntN(8))*2 + 1
				if rng.IntN(2) == 0 {
					stream = rng.Uint32() &^ (1 << 31)
				}
				n := rng.IntN(20)
				in = append(in, 0, 0, byte(n), byte(rng.IntN(4)), byte(rng.IntN(2)),
					byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
				in = append(in, make([]byte, n)...)
			}
		}
		for len(in) > 0 {
			n := min(len(in), 1+rng.IntN(100))
			c.inbound(in[:n])
			in = in[n:]
		}
		require.LessOrEqual(t, len(c.open), idleCancelMaxStreams, "round %d", round)

		// Server frames: RST_STREAMs with assorted codes on streams the
		// client may have opened, among other frames.
		var out []byte
		for range rng.IntN(300) {
			typ := byte(rng.IntN(4))
			payload := make([]byte, rng.IntN(20))
			if typ == frameRSTStream {
				payload = []byte{0, 0, 0, byte([]int{0, 2, 8}[rng.IntN(3)])}
			}
			stream := uint32(rng.IntN(8))*2 + 1
			if rng.IntN(2) == 0 {
				stream = rng.Uint32() &^ (1 << 31)
			}
			out = append(out, 0, 0, byte(len(payload)), typ, 0,
				byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
			out = append(out, payload...)
		}
		orig := append([]byte(nil), out...)
		var got []byte
		for p := out; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(50))
			got = append(got, c.outbound(p[:n], false)...)
			p = p[n:]
		}
		require.Equal(t, orig, out, "round %d: the caller's bytes changed", round)
		require.Len(t, got, len(orig))
		for i := range got {
			if got[i] != orig[i] {
				patched++
				require.Equal(t, byte(codeInternal), orig[i], "round %d, byte %d", round, i)
				require.Equal(t, byte(codeCancel), got[i], "round %d, byte %d", round, i)
			}
		}
	}
	assert.NotZero(t, patched, "no reset was ever rewritten: the input exercises nothing")
}

// TestIdleCancelKeepsOtherCodes: a stream the client ends is never
// rewritten: a request the proxy refuses mid-way gets x/net's own code.
func TestIdleCancelKeepsOtherCodes(t *testing.T) {
	// A stream the client ends is never rewritten: a request the
	// proxy refuses mid-way gets x/net's own code.
	c := newIdleCancel(time.Nanosecond)
	var in bytes.Buffer
	in.WriteString(http2.ClientPreface)
	cf := http2.NewFramer(&in, nil)
	require.NoError(t, cf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndHeaders: true, EndStream: true}))
	require.NoError(t, cf.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: []byte{0x83}, EndHeaders: true}))
	// Fed one byte at a time: frame boundaries fall anywhere.
	for _, b := range in.Bytes() {
		c.inbound([]byte{b})
	}
	time.Sleep(time.Millisecond)
	var out bytes.Buffer
	sf := http2.NewFramer(&out, nil)
	require.NoError(t, sf.WriteRSTStream(1, http2.ErrCodeInternal))
	require.NoError(t, sf.WriteRSTStream(3, http2.ErrCodeInternal))
	require.NoError(t, sf.WriteRSTStream(3, http2.ErrCodeInternal)) // forgotten after the first
	wire := out.Bytes()
	orig := append([]byte(nil), wire...)
	var got []byte
	for i := 0; i < len(wire); i += 5 {
		got = append(got, c.outbound(wire[i:min(i+5, len(wire))], false)...)
	}
	assert.Equal(t, orig, wire, "the caller's bytes must not change")
	rd := http2.NewFramer(nil, bytes.NewReader(got))
	var codes []http2.ErrCode
	for {
		f, err := rd.ReadFrame()
		if err != nil {
			break
		}
		codes = append(codes, f.(*http2.RSTStreamFrame).ErrCode)
	}
	assert.Equal(t, []http2.ErrCode{http2.ErrCodeInternal, http2.ErrCodeCancel, http2.ErrCodeInternal}, codes)
}
