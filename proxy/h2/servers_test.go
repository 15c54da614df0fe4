package h2

import (
	"net"
	"testing"
)

// serverUnderTest serves HTTP/2 on c (server side of a net.Pipe or a
// loopback TCP conn) until c closes.
//
// Every implementation serves the same handler, which the conformance
// tables rely on:
//   - any path: read the whole request body, then 200 with body "ok";
//   - "/trailer": the same, plus the response trailer "x-t: 1";
//   - "/echo": read the whole body, then 200 with that body as the response;
//   - "/hold": never read the body nor answer; return when the stream is
//     reset or the connection ends (it keeps a stream open on demand).
//
// A request body that fails to read (the server found it malformed) makes
// the handler return without answering, aborting the stream.
type serverUnderTest func(t *testing.T, c net.Conn)

// servers is every implementation the wire tables run against. The own
// server joins with one more element: {"own", ownServer}. The first is the
// one the differential tests compare the others with.
var servers = []struct {
	name  string
	serve serverUnderTest
}{
	{xnetName, xnetServer},
	{"own", ownServer},
}

// xnetName names the reference implementation: on rows marked
// xnetDeviates its run logs the difference instead of failing.
const xnetName = "xnet"

// forEachServer runs f once per server under test, as a subtest named
// after it.
func forEachServer(t *testing.T, f func(t *testing.T, serve serverUnderTest, xnet bool)) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) { f(t, s.serve, s.name == xnetName) })
	}
}
