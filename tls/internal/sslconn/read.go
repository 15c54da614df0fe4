package sslconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// Read reads application data, handling post-handshake messages on the way.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readErr != nil {
		return 0, c.readErr
	}
	var rbp *[]byte
	defer func() {
		if rbp != nil {
			rawPool.Put(rbp)
		}
	}()
	var in []byte
	for {
		if c.starved && in == nil {
			if rbp == nil {
				rbp = rawPool.Get().(*[]byte)
			}
			m, err := c.raw.Read(*rbp)
			if m > 0 {
				in = (*rbp)[:m]
			} else if err != nil {
				return 0, c.rawReadError(err)
			}
			continue
		}
		st := c.keep(c.eng.Read(in, p))
		if st.Status == Closed {
			return 0, net.ErrClosed
		}
		in = nil
		c.starved = st.Starved
		if st.More {
			// A KeyUpdate or similar wants an answer; it goes out in order
			// with application data through writeMu.
			c.flushFromReader()
		}
		switch st.Status {
		case Done:
			return st.N, nil
		case EOF:
			c.readErr = io.EOF
			return 0, io.EOF
		case Failed:
			c.readErr = fmt.Errorf("%s: read: %s", c.flavor, st.Err)
			return 0, c.readErr
		}
		if rbp == nil {
			rbp = rawPool.Get().(*[]byte)
		}
		m, err := c.raw.Read(*rbp)
		if m > 0 {
			in = (*rbp)[:m]
			continue
		}
		if err != nil {
			return 0, c.rawReadError(err)
		}
	}
}

// rawReadError turns an error of the raw conn into Read's result. The
// caller holds readMu.
func (c *Conn) rawReadError(err error) error {
	if errors.Is(err, io.EOF) {
		// The peer closed without close_notify; like crypto/tls, report a
		// plain end of stream.
		c.readErr = io.EOF
		return io.EOF
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	// Timeouts stay recoverable: the raw error is returned as is so it is a
	// net.Error with Timeout() true.
	return err
}

// flushFromReader sends what a read step left for the peer, behind any
// Write in progress.
func (c *Conn) flushFromReader() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	obp := outPool.Get().(*[]byte)
	defer outPool.Put(obp)
	if err := c.drainTo(*obp); err != nil && c.writeErr == nil {
		c.writeErr = err
	}
}
