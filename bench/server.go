package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/clienthello"
)

// The bench server's tiny protocol: after the handshake the client sends
// one command byte. Nothing is sent for an idle connection, so the server
// sits in Read, which is what a proxy does with a keep-alive connection.
const (
	cmdQuery = 'q' // server answers replySize bytes and waits for the client to close
	cmdBulk  = 'b' // server writes until the client goes away
)

const (
	replySize = 1024
	bulkChunk = 16 << 10 // one full TLS record
)

// serverMain is `gantry bench server`: TLS endpoints of one backend for the
// handshake, bulk and idle workloads. It prints one "ready" line with its
// addresses and serves until SIGTERM. SIGUSR1 runs a garbage collection and
// returns free memory to the OS, so that RSS readings count live memory.
func serverMain(args []string) error {
	fs := flag.NewFlagSet("bench server", flag.ContinueOnError)
	backend := fs.String("backend", tls.DefaultBackend, "TLS backend to serve with")
	ecCert := fs.String("ecdsa-cert", "", "ECDSA certificate PEM")
	ecKey := fs.String("ecdsa-key", "", "ECDSA key PEM")
	rsaCert := fs.String("rsa-cert", "", "RSA certificate PEM")
	rsaKey := fs.String("rsa-key", "", "RSA key PEM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := RaiseNofile(); err != nil {
		return err
	}
	b, err := tls.Lookup(*backend)
	if err != nil {
		return err
	}
	reply := make([]byte, replySize)
	for i := range reply {
		reply[i] = 'a'
	}
	chunk := make([]byte, bulkChunk)
	if _, err := rand.Read(chunk); err != nil {
		return fmt.Errorf("bench: random bulk data: %w", err)
	}

	var addrs []string
	for _, kc := range []struct{ name, cert, key string }{{"ecdsa", *ecCert, *ecKey}, {"rsa", *rsaCert, *rsaKey}} {
		if kc.cert == "" {
			continue
		}
		cert, err := certs.LoadKeyPair(kc.cert, kc.key)
		if err != nil {
			return err
		}
		srv, err := b.NewServer(&tls.ServerConfig{
			Certificates: []tls.Certificate{cert},
			Policy:       tls.PolicyIntermediate,
		})
		if err != nil {
			return fmt.Errorf("bench: %s server with %s certificate: %w", *backend, kc.name, err)
		}
		defer srv.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("bench: listen: %w", err)
		}
		defer ln.Close()
		go acceptLoop(ln, srv, reply, chunk, false)
		addrs = append(addrs, kc.name+"="+ln.Addr().String())
		if kc.name == "ecdsa" {
			// The same server behind the ClientHello reader.
			hl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("bench: listen: %w", err)
			}
			defer hl.Close()
			go acceptLoop(hl, srv, reply, chunk, true)
			addrs = append(addrs, "hello="+hl.Addr().String())
		}
	}
	if len(addrs) == 0 {
		return errors.New("bench: server needs at least one certificate")
	}

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	fmt.Printf("ready pid=%d %s\n", os.Getpid(), strings.Join(addrs, " "))
	for s := range sig {
		if s != syscall.SIGUSR1 {
			return nil
		}
		runtime.GC()
		debug.FreeOSMemory()
	}
	return nil
}

// acceptLoop serves ln with srv; with hello, each connection's ClientHello
// is read and fingerprinted first and replayed to the handshake, as a
// listener does (tls/clienthello).
func acceptLoop(ln net.Listener, srv tls.Server, reply, chunk []byte, hello bool) {
	for {
		raw, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Running out of descriptors is transient here: back off.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if hello {
			go serveInspected(srv, raw, reply, chunk)
			continue
		}
		go serveConn(srv.Server(raw), reply, chunk)
	}
}

// serveInspected reads raw's ClientHello and computes its JA4, the work a
// listener does before every handshake, then serves the connection.
func serveInspected(srv tls.Server, raw net.Conn, reply, chunk []byte) {
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, hello, err := clienthello.Read(raw, clienthello.DefaultLimit)
	if err != nil {
		_ = raw.Close()
		return
	}
	_ = raw.SetReadDeadline(time.Time{})
	if h.JA4() == "" {
		_ = raw.Close()
		return
	}
	serveConn(srv.Server(clienthello.Replay(raw, hello)), reply, chunk)
}

func serveConn(c tls.Conn, reply, chunk []byte) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := c.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return
	}
	var cmd [1]byte
	if _, err := io.ReadFull(c, cmd[:]); err != nil {
		return
	}
	switch cmd[0] {
	case cmdQuery:
		if _, err := c.Write(reply); err != nil {
			return
		}
		// The client closes first, so TIME_WAIT stays on the client side
		// where loopback port reuse handles it.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, c)
	case cmdBulk:
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
}
