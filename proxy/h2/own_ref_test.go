package h2

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gantry-proxy/gantry/proxy/h1"
)

// ownServer is the serverUnderTest for Gantry's server, with the handler
// the tables expect (see serverUnderTest).
func ownServer(t *testing.T, c net.Conn) {
	s, err := NewServer(ServerOptions{
		MaxConcurrentStreams: 100,
		MaxHeaderBytes:       64 << 10,
		WriteTimeout:         10 * time.Second,
		StreamIdle:           10 * time.Second,
		IdleTimeout:          time.Minute,
		PrefaceTimeout:       10 * time.Second,
	})
	if err != nil {
		t.Error(err)
		return
	}
	s.ServeConn(context.Background(), c, ownHandler)
}

func ownHandler(st *Stream) {
	if st.Path() == "/hold" {
		<-st.Done()
		return
	}
	body, err := io.ReadAll(st)
	if err != nil {
		return // the stream is reset
	}
	switch st.Path() {
	case "/echo":
		if st.WriteHead(200, nil, -1) != nil {
			return
		}
		_, _ = io.Copy(st, bytes.NewReader(body))
		_ = st.Finish(nil)
	case "/trailer":
		if st.WriteHead(200, nil, -1) != nil {
			return
		}
		_, _ = st.Write([]byte("ok"))
		var tr h1.Header
		tr.Add("x-t", "1")
		_ = st.Finish(&tr)
	default:
		if st.WriteHead(200, nil, -1) != nil {
			return
		}
		_, _ = st.Write([]byte("ok"))
		_ = st.Finish(nil)
	}
}
