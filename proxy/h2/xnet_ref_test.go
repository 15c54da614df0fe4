package h2

//lint:file-ignore SA1019 reference implementation for differential tests

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// xnetServer is the reference serverUnderTest: x/net's HTTP/2 server (on
// Go 1.27, net/http's own behind x/net's wrapper) with the handler the
// tables expect (see serverUnderTest).
func xnetServer(_ *testing.T, c net.Conn) {
	srv := &http2.Server{MaxConcurrentStreams: 100, MaxReadFrameSize: 16 << 10}
	base := &http.Server{ // #nosec G112 -- never listens: it only carries the limits into ServeConn.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	srv.ServeConn(c, &http2.ServeConnOpts{BaseConfig: base, Handler: http.HandlerFunc(xnetHandler)})
}

func xnetHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/hold" {
		<-r.Context().Done()
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// The server found the body malformed; answering would hide that.
		panic(http.ErrAbortHandler)
	}
	switch r.URL.Path {
	case "/echo":
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, bytes.NewReader(body))
	case "/trailer":
		w.Header().Set("Trailer", "x-t")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
		w.Header().Set("x-t", "1")
	default:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
	}
}
