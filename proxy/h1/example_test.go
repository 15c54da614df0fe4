package h1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// Example shows the shape of a downstream server loop on the codec: one
// Reader, Request and head buffer per connection, reused for every request.
func Example() {
	conn := strings.NewReader("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\n" +
		"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc" +
		"GET / HTTP/1.1\r\nHost: example.com\r\nContent-Length: x\r\n\r\n")
	out := bufio.NewWriter(io.Discard)
	rd := h1.NewReader(conn, h1.Limits{})
	var req h1.Request
	head := make([]byte, 0, 4096)
	for {
		err := rd.ReadRequest(&req)
		if errors.Is(err, io.EOF) {
			return
		}
		if e, ok := h1.IsError(err); ok {
			fmt.Println("answer", e.Status, "and close:", e.Reason)
			return
		}
		if err != nil {
			return
		}
		h1.RemoveHopByHop(&req.Header)
		target := req.AppendOriginForm(nil)
		head, err = h1.AppendRequestHead(head[:0], req.Method, target, &req.Header)
		if err != nil {
			return
		}
		out.Write(head)
		n, _ := io.Copy(out, rd.Body())
		fmt.Printf("%s %s host=%s fields=%d body=%d\n", req.Method, target, req.Host, req.Header.Len(), n)
	}
	// Output:
	// GET /a?b host=example.com fields=1 body=0
	// POST /upload host=example.com fields=2 body=3
	// answer 400 and close: invalid Content-Length
}
