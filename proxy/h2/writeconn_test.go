package h2

import (
	"bytes"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeStateConn is one end of a net.Pipe with a TLS state, as x/net sees a
// downstream connection.
type pipeStateConn struct{ net.Conn }

func (pipeStateConn) ConnectionState() stdtls.ConnectionState {
	return stdtls.ConnectionState{Version: stdtls.VersionTLS13, HandshakeComplete: true}
}

func TestH2WriteConnDeliversInOrderAndDrainsOnClose(t *testing.T) {
	tests := []struct {
		name     string
		writers  int
		perWrite int
		writes   int
	}{
		{"one writer, small frames", 1, 20, 500},
		{"several writers", 4, 100, 100},
		{"writes past the queue bound", 2, 48 << 10, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			wc := newWriteConn(pipeStateConn{a}, 10*time.Second, 0)
			got := make(chan []byte, 1)
			go func() {
				all, _ := io.ReadAll(b)
				got <- all
			}()
			var wg sync.WaitGroup
			for w := 0; w < tt.writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < tt.writes; i++ {
						// Each write is one recognisable record: writer, index, padding.
						rec := fmt.Appendf(nil, "<%d:%d:", w, i)
						rec = append(rec, bytes.Repeat([]byte{'x'}, tt.perWrite)...)
						rec = append(rec, '>')
						n, err := wc.Write(rec)
						assert.NoError(t, err)
						assert.Equal(t, len(rec), n)
					}
				}()
			}
			wg.Wait()
			// Close right after the writes: what is queued must still arrive.
			require.NoError(t, wc.Close())
			all := <-got
			next := make([]int, tt.writers)
			records := 0
			for len(all) > 0 {
				end := bytes.IndexByte(all, '>')
				require.Positive(t, end, "a record was cut or interleaved")
				var w, i int
				_, err := fmt.Sscanf(string(all[:end]), "<%d:%d:", &w, &i)
				require.NoError(t, err)
				require.Less(t, w, tt.writers)
				assert.Equal(t, next[w], i, "writer %d's records out of order", w)
				next[w] = i + 1
				records++
				all = all[end+1:]
			}
			assert.Equal(t, tt.writers*tt.writes, records)
		})
	}
}

func TestH2WriteConnFailedSendIsSticky(t *testing.T) {
	a, b := net.Pipe()
	wc := newWriteConn(pipeStateConn{a}, 10*time.Second, 0)
	defer wc.Close()
	require.NoError(t, b.Close()) // the client went away
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = wc.Write([]byte("frame"))
		if err == nil {
			time.Sleep(time.Millisecond) // let the writer meet the closed pipe
		}
	}
	require.Error(t, err, "writes kept succeeding on a dead connection")
	_, err2 := wc.Write([]byte("again"))
	assert.Error(t, err2)
}

func TestH2WriteConnCloseEndsStalledSend(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	wc := newWriteConn(pipeStateConn{a}, time.Hour, 0)
	_, err := wc.Write([]byte("nobody reads this"))
	require.NoError(t, err)
	// The peer never reads: Close must give up on the queued bytes after
	// its drain budget rather than wait for the hour-long write deadline.
	done := make(chan error, 1)
	go func() { done <- wc.Close() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close blocked on a client that does not read")
	}
	_, err = wc.Write([]byte("late"))
	assert.Error(t, err)
}

func TestH2WriteConnKeepsConnectionState(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	wc := newWriteConn(pipeStateConn{a}, time.Second, 0)
	defer wc.Close()
	// x/net refuses TLS below 1.2 through this method; it must reach the
	// real connection.
	assert.Equal(t, uint16(stdtls.VersionTLS13), wc.ConnectionState().Version)
	assert.NoError(t, wc.SetWriteDeadline(time.Unix(1, 0)), "write deadlines belong to the writer goroutine")
}
