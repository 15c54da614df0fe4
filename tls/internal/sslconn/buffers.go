package sslconn

import (
	"sync"
	"time"
)

const (
	// rawBufSize holds a full TLS record with room to spare.
	rawBufSize = 32 << 10
	// writeChunk is the plaintext handed to the engine per step: four full
	// records.
	writeChunk = 64 << 10
	// outBufSize fits writeChunk once encrypted (4 records × at most 29
	// bytes of framing) so a chunk leaves in one raw Write.
	outBufSize = writeChunk + 1024
	// closeNotifyTimeout bounds the close_notify that Close sends, as
	// crypto/tls does.
	closeNotifyTimeout = 5 * time.Second
)

// The buffers between the engine and the network are pooled: a connection
// needs them only while it moves bytes, and idle connections are many.
var (
	rawPool = sync.Pool{New: func() any { b := make([]byte, rawBufSize); return &b }}
	outPool = sync.Pool{New: func() any { b := make([]byte, outBufSize); return &b }}
)
