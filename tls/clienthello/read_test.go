package clienthello

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// records splits msg into TLS handshake records of at most size bytes.
func records(msg []byte, size int) []byte {
	var out []byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		out = append(out, recordTypeHandsh, 3, 1, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

func TestReadReturnsExactlyTheHelloRecords(t *testing.T) {
	msg := specHello(t)
	stream := append(records(msg, maxFragmentLen), "after the hello"...)
	r := bytes.NewReader(stream)
	h, raw, err := Read(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, stream[:len(stream)-len("after the hello")]) {
		t.Errorf("raw is not the hello's record")
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "after the hello" {
		t.Errorf("Read consumed bytes past the hello: left %q", rest)
	}
	if h.ServerName != "example.com" || len(h.ALPN) != 2 || h.ALPN[0] != "h2" {
		t.Errorf("parsed SNI %q ALPN %q", h.ServerName, h.ALPN)
	}
}

func TestReadRefuses(t *testing.T) {
	msg := specHello(t)
	padded := padHello(t, msg, DefaultLimit) // one byte over the limit
	for _, tc := range []struct {
		name   string
		stream []byte
		limit  int
		want   error
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, ErrNotTLS},
		{"split in two records", records(msg, len(msg)/2+1), 0, ErrTooManyRecords},
		{"header split off", records(msg, 3), 0, ErrTooManyRecords},
		{"over the limit", records(padded, maxFragmentLen), 0, ErrTooLarge},
		{"over a small limit", records(msg, maxFragmentLen), 100, ErrTooLarge},
		{"bytes after the hello in its record", records(append(append([]byte(nil), msg...), 20, 0, 0, 0), maxFragmentLen), 0, ErrMalformed},
		{"not a ClientHello", records([]byte{2, 0, 0, 1, 0}, maxFragmentLen), 0, ErrMalformed},
		{"empty record", []byte{recordTypeHandsh, 3, 1, 0, 0}, 0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(tc.stream), tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A hello exactly at the limit still passes, in the one record it needs.
	at := padHello(t, msg, DefaultLimit-1)
	if len(at) != DefaultLimit {
		t.Fatalf("padded to %d", len(at))
	}
	if _, _, err := Read(bytes.NewReader(records(at, maxFragmentLen)), 0); err != nil {
		t.Fatalf("hello of exactly the limit: %v", err)
	}
	// Larger limits need more records; exactly that many pass, one more
	// is refused.
	two := padHello(t, msg, maxFragmentLen+100)
	if _, _, err := Read(bytes.NewReader(records(two, maxFragmentLen)), 64<<10); err != nil {
		t.Fatalf("hello in the two records it needs: %v", err)
	}
	if _, _, err := Read(bytes.NewReader(records(two, maxFragmentLen/2)), 64<<10); !errors.Is(err, ErrTooManyRecords) {
		t.Fatalf("hello in three records: %v", err)
	}
}

// padHello adds a padding extension so that msg has limit+1 bytes.
func padHello(t *testing.T, msg []byte, limit int) []byte {
	t.Helper()
	h, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	n := limit + 1 - len(msg) - 4
	h.Extensions = append(h.Extensions, Extension{Type: 0x0015 + 0x100, Data: make([]byte, n)})
	out, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseRefusesDuplicatesAndBadNames(t *testing.T) {
	h, err := Parse(specHello(t))
	if err != nil {
		t.Fatal(err)
	}
	dup := *h
	dup.Extensions = append(append([]Extension(nil), h.Extensions...), h.Extensions[3])
	msg, _ := dup.Marshal()
	if _, err := Parse(msg); !errors.Is(err, ErrMalformed) {
		t.Errorf("duplicate extension: %v", err)
	}
	for _, name := range []string{"a b", "a\x00b", "é.example"} {
		bad := *h
		bad.Extensions = append([]Extension(nil), h.Extensions...)
		for i, e := range bad.Extensions {
			if e.Type == ExtServerName {
				l := len(name)
				data := append([]byte{byte((l + 3) >> 8), byte(l + 3), 0, byte(l >> 8), byte(l)}, name...)
				bad.Extensions[i] = Extension{Type: ExtServerName, Data: data}
			}
		}
		msg, _ := bad.Marshal()
		if _, err := Parse(msg); !errors.Is(err, ErrMalformed) {
			t.Errorf("server name %q: %v", name, err)
		}
	}
}

// capture accepts one connection on a raw TCP listener, runs client
// against it and returns the hello it sent.
func capture(t *testing.T, client func(addr string)) *Hello {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		h   *Hello
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		h, _, err := Read(c, 0)
		got <- result{h, err}
	}()
	client(ln.Addr().String())
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.h
}

// The hellos of real clients parse, and fingerprint the same on every
// connection whatever they randomise (key shares, GREASE, extension order).
func TestRealClients(t *testing.T) {
	goClient := func(addr string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := stdtls.Dialer{Config: &stdtls.Config{ServerName: "client.example", NextProtos: []string{"h2", "http/1.1"}, MinVersion: stdtls.VersionTLS12}}
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
		}
	}
	run := func(name string, args ...string) func(string) {
		return func(addr string) {
			_, port, _ := net.SplitHostPort(addr)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "PORT", port)
			}
			cmd := exec.Command(name, args...) // #nosec G204 -- fixed test clients
			cmd.Stdin = strings.NewReader("")
			_ = cmd.Run() // the listener closes after the hello: the client fails
		}
	}
	for _, tc := range []struct {
		name   string
		client func() func(string)
	}{
		{"go", func() func(string) { return goClient }},
		{"curl", func() func(string) {
			return run("curl", "-sk", "--max-time", "5", "--resolve", "client.example:PORT:127.0.0.1", "https://client.example:PORT/")
		}},
		{"openssl", func() func(string) {
			return run("openssl", "s_client", "-connect", "127.0.0.1:PORT", "-servername", "client.example")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "go" {
				if _, err := exec.LookPath(tc.name); err != nil {
					t.Fatalf("%s is needed for this test: %v", tc.name, err)
				}
			}
			first := capture(t, tc.client())
			second := capture(t, tc.client())
			ja4 := first.JA4()
			t.Logf("%s JA4 %s", tc.name, ja4)
			t.Logf("%s JA4_r %s", tc.name, first.JA4Raw())
			if !ja4Form.MatchString(ja4) || !strings.HasPrefix(ja4, "t13d") {
				t.Errorf("JA4 %q is not a TLS 1.3 client's with SNI", ja4)
			}
			if second.JA4() != ja4 {
				t.Errorf("JA4 changed between connections: %s then %s", ja4, second.JA4())
			}
			if first.ServerName != "client.example" {
				t.Errorf("SNI = %q", first.ServerName)
			}
			msg, err := first.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if again, err := Parse(msg); err != nil || again.JA4() != ja4 {
				t.Errorf("re-serialised hello: %v, JA4 %v", err, again)
			}
		})
	}
}
