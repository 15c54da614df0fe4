package h2

import "testing"

// FuzzFrameSequence decodes the input into frame ops (see decodeOps) and
// plays them against every server under test: the server must answer or
// end the connection, return once the client closes, and leave no
// goroutine behind; with two servers, their outcome classes must agree.
func FuzzFrameSequence(f *testing.F) {
	f.Add([]byte{opRequest, 0, 1})                                         // GET / with END_STREAM
	f.Add([]byte{opRequest, 0, 2 | 1<<2, opData, 0, 4<<2 | 1})             // POST /echo, 4 bytes
	f.Add([]byte{opRequest, 0, 2, opRST, 0, 8, opData, 0, 1})              // reset, then DATA
	f.Add([]byte{opOpenBlock, 0, 0, opPing, 0, 0})                         // PING inside a block
	f.Add([]byte{opSettings, 0, 0, opRequest, 1, 1, opWindowUpdate, 1, 1}) // window 0, then grant
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSequence(t, decodeOps(data), nil)
	})
}
