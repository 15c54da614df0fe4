package h2

// guard counts what a client makes the connection do, to end a connection
// that abuses it with GOAWAY ENHANCE_YOUR_CALM. It runs under c.mu.
//
// Resets: a client that resets most of the streams it opens while their
// handlers run (rapid reset, CVE-2023-44487), or provokes the server into
// resetting them (malformed requests, flow-control errors, refused
// streams: "MadeYouReset", CVE-2025-8671) makes the proxy start work it
// then throws away. Past resetMin such resets, more than half of the
// streams opened is an attack, not a browser cancelling navigations.
//
// Frames that do no work (SETTINGS, PING, PRIORITY, RST_STREAM,
// WINDOW_UPDATE, empty DATA, empty CONTINUATION, unknown types, DATA on
// closed streams) are counted in bytes (junkFrame at least each) against
// the useful bytes moved (request heads and bodies received, response
// bodies sent): past junkSlack more than useful/8, the client is flooding.
type guard struct {
	opened  int64
	resets  int64
	junkB   int64
	usefulB int64
	calm    string // why the connection is to end; empty while it is fine
}

const (
	resetMin  = 200
	junkSlack = 1 << 20
	junkFrame = 64
)

func (g *guard) clientReset() { g.reset() }
func (g *guard) serverReset() { g.reset() }

func (g *guard) reset() {
	g.resets++
	if g.resets > resetMin && 2*g.resets > g.opened && g.calm == "" {
		g.calm = "rapid reset"
	}
}

func (g *guard) junk(h frameHeader) {
	// A frame costs its handling more than its bytes: small frames count
	// as junkFrame bytes at least.
	g.junkB += max(int64(frameHeaderLen)+int64(h.length), junkFrame)
	if g.junkB > junkSlack+g.usefulB/8 && g.calm == "" {
		g.calm = "flood of frames that do no work"
	}
}

func (g *guard) useful(n int) { g.usefulB += int64(n) }
