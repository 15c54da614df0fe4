package h2

import "testing"

// FuzzFrameSequence decodes the input into frame ops (see decodeOps) and
// plays them against every server under test: the server must answer or
// end the connection, return once the client closes, and leave no
// goroutine behind; with two servers, their wireOutcome classes must agree.
func FuzzFrameSequence(f *testing.F) {
	f.Add([]byte{wopRequest, 0, 1})                                           // GET / with END_STREAM
	f.Add([]byte{wopRequest, 0, 2 | 1<<2, wopData, 0, 4<<2 | 1})              // POST /echo, 4 bytes
	f.Add([]byte{wopRequest, 0, 2, wopRST, 0, 8, wopData, 0, 1})              // reset, then DATA
	f.Add([]byte{wopOpenBlock, 0, 0, wopPing, 0, 0})                          // PING inside a block
	f.Add([]byte{wopSettings, 0, 0, wopRequest, 1, 1, wopWindowUpdate, 1, 1}) // window 0, then grant
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSequence(t, decodeOps(data), nil)
	})
}
