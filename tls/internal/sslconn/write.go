package sslconn

import (
	"context"
	"errors"
	"fmt"
	"net"
)

var (
	errShutdown = errors.New("tls: protocol is shut down")
	errNoHSYet  = errors.New("tls: CloseWrite called before the handshake completed")
)

// Write encrypts p and sends it; it returns once all of p is on the raw
// conn or an error occurred.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return 0, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	if len(p) == 0 {
		return 0, nil
	}
	obp := outPool.Get().(*[]byte)
	defer outPool.Put(obp)
	obuf := *obp
	total := 0
	for len(p) > 0 {
		st := c.keep(c.eng.Write(p[:min(len(p), writeChunk)], obuf))
		if st.Status == Closed {
			return total, net.ErrClosed
		}
		if st.Out > 0 {
			if _, err := c.raw.Write(obuf[:st.Out]); err != nil {
				// A record may be half sent: the stream is unusable.
				c.writeErr = err
				return total, err
			}
		}
		if st.More {
			if err := c.drainTo(obuf); err != nil {
				c.writeErr = err
				return total, err
			}
		}
		if st.Status == Failed {
			c.writeErr = fmt.Errorf("%s: write: %s", c.flavor, st.Err)
			return total, c.writeErr
		}
		total += st.N
		p = p[st.N:]
	}
	return total, nil
}

// drainTo sends whatever output the engine still holds. The caller holds
// writeMu or is the handshake, which excludes writers.
func (c *Conn) drainTo(obuf []byte) error {
	for {
		st := c.keep(c.eng.Drain(obuf))
		if st.Status == Closed {
			return net.ErrClosed
		}
		if st.Out > 0 {
			if _, err := c.raw.Write(obuf[:st.Out]); err != nil {
				return err
			}
		}
		if !st.More {
			return nil
		}
	}
}

// CloseWrite sends close_notify; the peer reads io.EOF and can still send.
func (c *Conn) CloseWrite() error {
	if !c.hsDone.Load() || c.hsErr != nil {
		return errNoHSYet
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.closeNotifyLocked()
}

// closeNotifyLocked sends close_notify once; the caller holds writeMu.
func (c *Conn) closeNotifyLocked() error {
	if c.shutdownSent {
		return nil
	}
	c.shutdownSent = true
	obp := outPool.Get().(*[]byte)
	defer outPool.Put(obp)
	obuf := *obp
	st := c.keep(c.eng.Shutdown(obuf))
	if st.Status == Closed {
		return net.ErrClosed
	}
	var serr error
	if st.Status == Failed {
		serr = fmt.Errorf("%s: close_notify: %s", c.flavor, st.Err)
	}
	if c.writeErr == nil {
		c.writeErr = errShutdown
	}
	if st.Out > 0 {
		if _, err := c.raw.Write(obuf[:st.Out]); err != nil {
			return err
		}
	}
	if st.More {
		if err := c.drainTo(obuf); err != nil {
			return err
		}
	}
	return serr
}
