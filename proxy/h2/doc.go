// Package h2 is Gantry's HTTP/2 server, the sibling of proxy/h1: it reads
// frames, decodes HPACK header blocks straight into h1.Header field lists,
// runs the RFC 9113 stream state machine and flow control in both
// directions, and hands each request stream to a Handler on its own
// goroutine; responses are encoded and queued under the connection's one
// lock and written by one goroutine at a time, coalesced into few TLS
// records.
//
// A connection is one read loop (the only reader), one timer (the sweep
// that ends idle bodies, stalled writes, idle connections and drains) and
// the handlers of its streams. What a client may make it hold is bounded:
// header blocks (raw and decoded), request bodies (the advertised
// windows), queued output (a handler waits; a client that does not read
// its answers loses the connection), running handlers (reset streams count
// until their handler returns) and frames that do no work (see guard).
//
// It must never import the proxy or know what a request is for; never pass
// a request that breaks RFC 9113 §8 to a handler (malformed requests are
// reset with PROTOCOL_ERROR before one starts); never buffer without bound
// or write to a client without a deadline; never send a response that
// could be taken for whole when it is cut (an unfinished stream is reset).
package h2
