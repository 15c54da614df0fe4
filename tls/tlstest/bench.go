package tlstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

// BenchmarkHandshake measures handshakes with b in both roles: see
// BenchmarkHandshakePair.
func BenchmarkHandshake(b *testing.B, backend tls.Backend) {
	BenchmarkHandshakePair(b, backend, backend)
}

// BenchmarkHandshakePair measures one connection per iteration over
// loopback TCP (dial, handshake, one byte each way, close) for ECDSA P-256
// and RSA-2048 leaves, TLS 1.2 and 1.3, full and resumed handshakes.
func BenchmarkHandshakePair(b *testing.B, srv, cli tls.Backend) {
	p := NewPKI(b)
	for _, key := range []struct {
		name string
		cert tls.Certificate
	}{{"ECDSA-P256", p.ServerECDSA}, {"RSA-2048", p.ServerRSA}} {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			for _, resumed := range []bool{false, true} {
				kind := "full"
				if resumed {
					kind = "resumed"
				}
				b.Run(fmt.Sprintf("%s/%s/%s", key.name, versionName(v), kind), func(b *testing.B) {
					benchHandshake(b, srv, cli, key.cert, v, resumed)
				})
			}
		}
	}
}

// loopbackServer accepts connections on 127.0.0.1 and hands each, wrapped
// by s, to handle in its own goroutine until stop is called.
func loopbackServer(b *testing.B, s tls.Server, handle func(tls.Conn) error) (addr string, stop func() error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := s.Server(raw)
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				if err := handle(c); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
	}()
	return ln.Addr().String(), func() error {
		_ = ln.Close()
		wg.Wait()
		return firstErr
	}
}

// oneByteEach answers one byte with one byte, after the handshake.
func oneByteEach(c tls.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	_, err := c.Write(buf)
	return err
}

// seen is what a benchmark checks of its last connection.
type seen struct {
	version uint16
	resumed bool
}

func benchHandshake(b *testing.B, srvB, cliB tls.Backend, cert tls.Certificate, v uint16, resumed bool) {
	p := NewPKI(b)
	s, err := srvB.NewServer(&tls.ServerConfig{Certificates: []tls.Certificate{cert}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := cliB.NewClient(&tls.ClientConfig{RootCAs: p.Roots(), MaxVersion: v, DisableSessionCache: !resumed})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr, stop := loopbackServer(b, s, oneByteEach)
	name := cert.Leaf.DNSNames[0]

	connect := func() (seen, error) {
		raw, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			return seen{}, err
		}
		cc := c.Client(raw, name)
		defer cc.Close()
		_ = cc.SetDeadline(time.Now().Add(ioTimeout))
		if err := oneByteEachClient(cc); err != nil {
			return seen{}, err
		}
		cs := cc.ConnectionState()
		return seen{version: cs.Version, resumed: cs.DidResume}, nil
	}
	if resumed {
		if _, err := connect(); err != nil { // prime the session cache
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var last seen
	for range b.N {
		if last, err = connect(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	if last.version != v || last.resumed != resumed {
		b.Fatalf("last connection: version 0x%04x resumed %v, want 0x%04x resumed %v", last.version, last.resumed, v, resumed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

func oneByteEachClient(c tls.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// BenchmarkThroughput measures one direction of bulk transfer, client to
// server, in 16 KiB writes over one loopback connection.
func BenchmarkThroughput(b *testing.B, backend tls.Backend) {
	const chunk = 16 << 10
	sc, cc := openPair(b, backend, backend)
	// Benchmarks may run longer than the suite's per-step deadline.
	_ = sc.SetDeadline(time.Time{})
	_ = cc.SetDeadline(time.Time{})
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		n, err := io.CopyN(io.Discard, sc, int64(b.N)*chunk)
		if err == nil && n != int64(b.N)*chunk {
			err = errors.New("tlstest: short read")
		}
		done <- err
	}()
	for range b.N {
		if _, err := cc.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
