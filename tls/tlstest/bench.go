package tlstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
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
// and RSA-2048 leaves, TLS 1.2 and 1.3, full and resumed handshakes. Both
// ends run in this process, so cpu-µs/op is the client's and the server's
// CPU time together.
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
	cpu := startCPU()
	b.ResetTimer()
	var last seen
	for range b.N {
		if last, err = connect(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu.report(b)
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
	sc, cc := benchPair(b, backend, backend)
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	cpu := startCPU()
	defer cpu.report(b)
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

// benchPair is openPair for a benchmark, which may run longer than the
// suite's per-step deadline.
func benchPair(b *testing.B, srv, cli tls.Backend) (sc, cc tls.Conn) {
	sc, cc = openPair(b, srv, cli)
	_ = sc.SetDeadline(time.Time{})
	_ = cc.SetDeadline(time.Time{})
	return sc, cc
}

// BenchmarkSmallRecords measures what a proxy pays per request on a kept
// connection: every backend in srvs answers each 1 KiB the client backend
// cli writes with 1 KiB of its own, one record each way, over loopback TCP.
// cpu-µs/op is the whole process (both ends), as in BenchmarkServerSide.
func BenchmarkSmallRecords(b *testing.B, cli tls.Backend, srvs ...tls.Backend) {
	for _, srv := range srvs {
		b.Run("srv="+srv.Name(), func(b *testing.B) { benchSmallRecords(b, srv, cli) })
	}
}

func benchSmallRecords(b *testing.B, srv, cli tls.Backend) {
	const size = 1 << 10
	sc, cc := benchPair(b, srv, cli)
	go func() {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(sc, buf); err != nil {
				return
			}
			if _, err := sc.Write(buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, size)
	cpu := startCPU()
	defer cpu.report(b)
	b.ResetTimer()
	for range b.N {
		if _, err := cc.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cc, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerSide measures what a proxy's listener pays: every backend in
// srvs serves, and the same client backend cli connects each time, so the
// differences between the srv=… sub-benchmarks are the servers' alone. It
// runs full handshakes (ECDSA P-256 and RSA-2048, TLS 1.2 and 1.3) and bulk
// transfer both ways, and reports the CPU time of the whole process per
// operation (client and server together) as cpu-µs/op, which, unlike
// ns/op, does not grow when another process competes for the CPUs.
func BenchmarkServerSide(b *testing.B, cli tls.Backend, srvs ...tls.Backend) {
	p := NewPKI(b)
	for _, srv := range srvs {
		b.Run("srv="+srv.Name(), func(b *testing.B) {
			for _, key := range []struct {
				name string
				cert tls.Certificate
			}{{"ECDSA-P256", p.ServerECDSA}, {"RSA-2048", p.ServerRSA}} {
				for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
					b.Run(fmt.Sprintf("handshake/%s/%s", key.name, versionName(v)), func(b *testing.B) {
						benchHandshake(b, srv, cli, key.cert, v, false)
					})
				}
			}
			b.Run("bulk/upload", func(b *testing.B) { benchThroughput(b, srv, cli, false) })
			b.Run("bulk/download", func(b *testing.B) { benchThroughput(b, srv, cli, true) })
		})
	}
}

// benchThroughput moves 16 KiB writes over one loopback connection, client
// to server (upload) or server to client (download).
func benchThroughput(b *testing.B, srv, cli tls.Backend, download bool) {
	const chunk = 16 << 10
	sc, cc := benchPair(b, srv, cli)
	from, to := net.Conn(cc), net.Conn(sc)
	if download {
		from, to = sc, cc
	}
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	cpu := startCPU()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		n, err := io.CopyN(io.Discard, to, int64(b.N)*chunk)
		if err == nil && n != int64(b.N)*chunk {
			err = errors.New("tlstest: short read")
		}
		done <- err
	}()
	for range b.N {
		if _, err := from.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu.report(b)
}

// cpuMark is the process's CPU time (user and system) at a point.
type cpuMark time.Duration

func processCPU() time.Duration {
	user, sys := processUserSys()
	return user + sys
}

// processUserSys splits the process's CPU time into user and system (the
// kernel's share: TCP, scheduling) time.
func processUserSys() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func startCPU() cpuMark { return cpuMark(processCPU()) }

func (m cpuMark) report(b *testing.B) {
	used := processCPU() - time.Duration(m)
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/op")
}

// serverChildEnv turns a test binary into the server of
// BenchmarkServerCPU; its value is "backend/key", e.g. "openssl/RSA-2048".
const serverChildEnv = "GANTRY_TLSTEST_SERVER_CHILD"

// ServerCPUsEnv, when set to a CPU list such as "0", runs the server child
// of BenchmarkServerCPU under `taskset -c` so that it and the client (pin the
// benchmark itself with `taskset -c 1 go test …`) do not share a CPU.
const ServerCPUsEnv = "GANTRY_BENCH_SERVER_CPUS"

// ServeChild must be called first in the TestMain of a package that runs
// BenchmarkServerCPU: in the child process it starts, it serves handshakes
// with the named backend until its stdin closes, then exits; in any other
// process it returns at once.
func ServeChild(backends ...tls.Backend) {
	spec := os.Getenv(serverChildEnv)
	if spec == "" {
		return
	}
	if err := serveChild(spec, backends); err != nil {
		fmt.Fprintln(os.Stderr, "tlstest: server child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveChild(spec string, backends []tls.Backend) error {
	name, keyName, ok := strings.Cut(spec, "/")
	if !ok {
		return fmt.Errorf("bad spec %q", spec)
	}
	var backend tls.Backend
	for _, b := range backends {
		if b.Name() == name {
			backend = b
		}
	}
	if backend == nil {
		return fmt.Errorf("backend %q not in this binary", name)
	}
	p, err := mintPKI()
	if err != nil {
		return err
	}
	cert := p.ServerECDSA
	if keyName == "RSA-2048" {
		cert = p.ServerRSA
	}
	s, err := backend.NewServer(&tls.ServerConfig{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := s.Server(raw)
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				_ = oneByteEach(c)
			}()
		}
	}()
	fmt.Printf("addr %s\n", ln.Addr())
	// Each line on stdin asks for the CPU time used so far.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		user, sys := processUserSys()
		fmt.Printf("cpu %d %d\n", user, sys)
	}
	return in.Err()
}

// BenchmarkServerCPU runs each server backend in a child process (the test
// binary itself, see ServeChild) and connects to it with cli from this one,
// full handshakes only, so that server-cpu-µs/op is the server's CPU time
// per handshake with no client cost in it: the child's own getrusage, read
// before and after the timed loop. The key exchange is X25519 for every
// server.
func BenchmarkServerCPU(b *testing.B, cli tls.Backend, srvs ...tls.Backend) {
	for _, srv := range srvs {
		for _, key := range []string{"ECDSA-P256", "RSA-2048"} {
			for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				b.Run(fmt.Sprintf("srv=%s/%s/%s", srv.Name(), key, versionName(v)), func(b *testing.B) {
					benchServerCPU(b, cli, srv.Name()+"/"+key, v)
				})
			}
		}
	}
}

func benchServerCPU(b *testing.B, cliB tls.Backend, spec string, v uint16) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	args := []string{exe, "-test.run=^$"}
	if cpus := os.Getenv(ServerCPUsEnv); cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), serverChildEnv+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	out := bufio.NewScanner(stdout)
	readField := func(prefix string) string {
		for out.Scan() {
			if rest, ok := strings.CutPrefix(out.Text(), prefix+" "); ok {
				return rest
			}
		}
		b.Fatalf("server child: no %q line: %v", prefix, out.Err())
		return ""
	}
	childCPU := func() (user, sys time.Duration) {
		if _, err := io.WriteString(stdin, "cpu\n"); err != nil {
			b.Fatal(err)
		}
		var u, s int64
		if _, err := fmt.Sscan(readField("cpu"), &u, &s); err != nil {
			b.Fatal(err)
		}
		return time.Duration(u), time.Duration(s)
	}
	addr := readField("addr")
	// X25519 first and no hybrid, so every server does the same key
	// exchange: offered the post-quantum hybrid, gostd would pick it and the
	// others could not. P-256 stays listed because a TLS 1.2 server may only
	// use a P-256 certificate with a client that names the curve.
	c, err := cliB.NewClient(&tls.ClientConfig{DisableVerifyCert: true, MaxVersion: v,
		DisableSessionCache: true, Groups: []string{string(tls.X25519), string(tls.P256)}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	connect := func() error {
		raw, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			return err
		}
		cc := c.Client(raw, NameECDSA)
		defer cc.Close()
		_ = cc.SetDeadline(time.Now().Add(ioTimeout))
		if err := oneByteEachClient(cc); err != nil {
			return err
		}
		cs := cc.ConnectionState()
		if cs.Version != v || cs.CurveID != tls.X25519.CurveID() {
			return fmt.Errorf("version 0x%04x group %v, want 0x%04x X25519", cs.Version, cs.CurveID, v)
		}
		return nil
	}
	// Warm the child up (lazy initialisation, first allocations) outside
	// the measurement.
	for range 20 {
		if err := connect(); err != nil {
			b.Fatal(err)
		}
	}
	user0, sys0 := childCPU()
	b.ResetTimer()
	for range b.N {
		if err := connect(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	user1, sys1 := childCPU()
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(perOp(user1-user0+sys1-sys0), "server-cpu-µs/op")
	b.ReportMetric(perOp(sys1-sys0), "server-sys-µs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}
