package e2e

import (
	"context"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// rawCodec carries gRPC messages as the bytes they are (*[]byte both
// ways), so the test needs no generated protobuf code.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...) // data is not ours after the call
	return nil
}

func (rawCodec) Name() string { return "raw" }

// The interop service, registered by hand: Unary echoes (or fails with
// NotFound "nope" when asked for "missing"), ServerStream sends the number
// of messages asked for (failing after 3 when the request starts with
// "fail"), ClientStream counts what it got, Bidi echoes each message. Every
// method sets trailer metadata.
func grpcServiceDesc(name string, seen chan<- metadata.MD) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: name,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Unary",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in []byte
				if err := dec(&in); err != nil {
					return nil, err
				}
				md, _ := metadata.FromIncomingContext(ctx)
				select {
				case seen <- md:
				default:
				}
				_ = grpc.SetHeader(ctx, metadata.Pairs("x-head", "unary head"))
				_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "unary trailer", "x-input", string(in)))
				if string(in) == "missing" {
					return nil, status.Error(codes.NotFound, "nope")
				}
				out := append([]byte("echo: "), in...)
				return &out, nil
			},
		}},
		Streams: []grpc.StreamDesc{
			{StreamName: "ServerStream", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
				var in []byte
				if err := ss.RecvMsg(&in); err != nil {
					return err
				}
				fail := strings.HasPrefix(string(in), "fail")
				n, err := strconv.Atoi(strings.TrimPrefix(string(in), "fail"))
				if err != nil {
					return status.Error(codes.InvalidArgument, "want a count")
				}
				ss.SetTrailer(metadata.Pairs("x-sent", strconv.Itoa(n)))
				for i := range n {
					if fail && i == 3 {
						return status.Error(codes.NotFound, "nope")
					}
					msg := []byte(fmt.Sprintf("message %d", i))
					if err := ss.SendMsg(&msg); err != nil {
						return err
					}
				}
				return nil
			}},
			{StreamName: "ClientStream", ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
				count, total := 0, 0
				for {
					var in []byte
					err := ss.RecvMsg(&in)
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
					count++
					total += len(in)
				}
				ss.SetTrailer(metadata.Pairs("x-received", strconv.Itoa(count)))
				out := []byte(fmt.Sprintf("%d messages, %d bytes", count, total))
				return ss.SendMsg(&out)
			}},
			{StreamName: "Bidi", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
				ss.SetTrailer(metadata.Pairs("x-bidi", "done"))
				for {
					var in []byte
					err := ss.RecvMsg(&in)
					if err == io.EOF {
						return nil
					}
					if err != nil {
						return err
					}
					out := append([]byte("re: "), in...)
					if err := ss.SendMsg(&out); err != nil {
						return err
					}
				}
			}},
		},
	}
}

// grpcOrigin is a grpc-go server on its own TLS listener (service
// interop.Echo) and the same server behind net/http (service interop.Tap),
// where the request's HTTP fields are seen before gRPC reads them.
type grpcOrigin struct {
	native string // address of the grpc-go transport
	tap    string // address of the net/http one
	// seen gets the metadata of Unary calls (content-type included).
	seen chan metadata.MD
	// tapped gets the TE and Content-Type fields of each request to the
	// tap.
	tapped chan [2]string
}

func startGRPCOrigin(t *testing.T, ca *certs.DevCA) *grpcOrigin {
	t.Helper()
	leaf, err := ca.IssueServer("localhost", "127.0.0.1")
	require.NoError(t, err)
	cert := stdtls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}
	o := &grpcOrigin{seen: make(chan metadata.MD, 16), tapped: make(chan [2]string, 16)}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&stdtls.Config{Certificates: []stdtls.Certificate{cert}, MinVersion: stdtls.VersionTLS12})),
		grpc.ForceServerCodec(rawCodec{}),
	)
	srv.RegisterService(grpcServiceDesc("interop.Echo", o.seen), nil)
	srv.RegisterService(grpcServiceDesc("interop.Tap", o.seen), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	o.native = ln.Addr().String()

	tap := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case o.tapped <- [2]string{strings.Join(r.Header.Values("Te"), ","), r.Header.Get("Content-Type")}:
		default:
		}
		srv.ServeHTTP(w, r)
	}))
	tap.EnableHTTP2 = true
	tap.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{cert}, MinVersion: stdtls.VersionTLS12}
	tap.StartTLS()
	t.Cleanup(tap.Close)
	o.tap = tap.Listener.Addr().String()
	return o
}

// nextCall returns the metadata of the next Unary call the origin got.
func (o *grpcOrigin) nextCall(ctx context.Context, t *testing.T) metadata.MD {
	t.Helper()
	select {
	case md := <-o.seen:
		return md
	case <-ctx.Done():
		t.Fatal("the origin saw no call")
		return nil
	}
}

// TestGRPCThroughProxy calls a grpc-go server through gantry, on every
// backend, with a grpc-go client over TLS: the upstream leg is HTTP/2 (ALPN
// h2 only). Unary, server-streaming (100 messages), client-streaming and
// bidi calls must succeed with the origin's trailer metadata; a NotFound
// "nope" must arrive as such, both as a trailers-only response (unary) and
// after messages (streaming); the origin must see content-type as sent and
// TE: trailers.
func TestGRPCThroughProxy(t *testing.T) {
	ca, err := certs.NewDevCA()
	require.NoError(t, err)
	origin := startInteropOrigin(t, ca)
	gorigin := startGRPCOrigin(t, ca)
	for _, backend := range gantrytls.Names() {
		t.Run(backend, func(t *testing.T) {
			env := startH2Env(t, backend, ca, origin, h2EnvExtra{
				routes: "  - {path_prefix: /interop.Echo/, upstream: grpc}\n  - {path_prefix: /interop.Tap/, upstream: grpc-tap}\n",
				upstreams: fmt.Sprintf("  grpc:\n    addresses: [%q]\n    tls: {backend: %[3]s, ca: origin-ca.pem, server_name: localhost, alpn: [h2]}\n"+
					"  grpc-tap:\n    addresses: [%[2]q]\n    tls: {backend: %[3]s, ca: origin-ca.pem, server_name: localhost, alpn: [h2]}\n",
					gorigin.native, gorigin.tap, backend),
			})
			conn, err := grpc.NewClient("localhost:"+env.port,
				grpc.WithTransportCredentials(credentials.NewTLS(&stdtls.Config{RootCAs: env.pool, MinVersion: stdtls.VersionTLS12})),
				grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
			)
			require.NoError(t, err)
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			grpcCalls(ctx, t, conn, gorigin)
		})
	}
}

func grpcCalls(ctx context.Context, t *testing.T, conn *grpc.ClientConn, o *grpcOrigin) {
	t.Run("unary", func(t *testing.T) {
		in, out := []byte("hello"), []byte(nil)
		var head, trailer metadata.MD
		err := conn.Invoke(ctx, "/interop.Echo/Unary", &in, &out, grpc.Header(&head), grpc.Trailer(&trailer))
		require.NoError(t, err)
		assert.Equal(t, "echo: hello", string(out))
		assert.Equal(t, []string{"unary head"}, head.Get("x-head"))
		assert.Equal(t, []string{"unary trailer"}, trailer.Get("x-trailer"))
		assert.Equal(t, []string{"hello"}, trailer.Get("x-input"))
		md := o.nextCall(ctx, t)
		assert.Equal(t, []string{"application/grpc+raw"}, md.Get("content-type"), "content-type as the client sent it")
	})

	t.Run("unary-not-found", func(t *testing.T) {
		// No message, so grpc-go answers trailers-only: one HEADERS with
		// grpc-status that ends the stream.
		in, out := []byte("missing"), []byte(nil)
		var trailer metadata.MD
		err := conn.Invoke(ctx, "/interop.Echo/Unary", &in, &out, grpc.Trailer(&trailer))
		st := status.Convert(err)
		assert.Equal(t, codes.NotFound, st.Code(), "%v", err)
		assert.Equal(t, "nope", st.Message())
		assert.Equal(t, []string{"unary trailer"}, trailer.Get("x-trailer"))
		o.nextCall(ctx, t)
	})

	t.Run("te-trailers", func(t *testing.T) {
		// The tap origin sees the request's fields as they arrived.
		in, out := []byte("tap"), []byte(nil)
		require.NoError(t, conn.Invoke(ctx, "/interop.Tap/Unary", &in, &out))
		assert.Equal(t, "echo: tap", string(out))
		o.nextCall(ctx, t)
		select {
		case got := <-o.tapped:
			assert.Equal(t, "trailers", got[0], "TE: trailers reaches the origin")
			assert.Equal(t, "application/grpc+raw", got[1])
		case <-ctx.Done():
			t.Fatal("the tap saw no call")
		}
	})

	serverStream := func(t *testing.T, ask string) ([]string, metadata.MD, error) {
		t.Helper()
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/interop.Echo/ServerStream")
		require.NoError(t, err)
		req := []byte(ask)
		require.NoError(t, cs.SendMsg(&req))
		require.NoError(t, cs.CloseSend())
		var got []string
		for {
			var m []byte
			if err := cs.RecvMsg(&m); err != nil {
				if err == io.EOF {
					err = nil
				}
				return got, cs.Trailer(), err
			}
			got = append(got, string(m))
		}
	}

	t.Run("server-stream", func(t *testing.T) {
		got, trailer, err := serverStream(t, "100")
		require.NoError(t, err)
		require.Len(t, got, 100)
		for i, m := range got {
			assert.Equal(t, fmt.Sprintf("message %d", i), m)
		}
		assert.Equal(t, []string{"100"}, trailer.Get("x-sent"))
	})

	t.Run("server-stream-not-found", func(t *testing.T) {
		got, trailer, err := serverStream(t, "fail10")
		st := status.Convert(err)
		assert.Equal(t, codes.NotFound, st.Code(), "%v", err)
		assert.Equal(t, "nope", st.Message())
		assert.Equal(t, []string{"message 0", "message 1", "message 2"}, got)
		assert.Equal(t, []string{"10"}, trailer.Get("x-sent"))
	})

	t.Run("client-stream", func(t *testing.T) {
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/interop.Echo/ClientStream")
		require.NoError(t, err)
		total := 0
		for i := range 50 {
			m := randomBytes(byte(i), 1000+i)
			total += len(m)
			require.NoError(t, cs.SendMsg(&m))
		}
		require.NoError(t, cs.CloseSend())
		var out []byte
		require.NoError(t, cs.RecvMsg(&out))
		assert.Equal(t, fmt.Sprintf("50 messages, %d bytes", total), string(out))
		assert.Equal(t, io.EOF, cs.RecvMsg(&out))
		assert.Equal(t, []string{"50"}, cs.Trailer().Get("x-received"))
	})

	t.Run("bidi", func(t *testing.T) {
		// Each reply is read before the next message is sent: both
		// directions must stream through the proxy.
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/interop.Echo/Bidi")
		require.NoError(t, err)
		for i := range 20 {
			m := []byte(fmt.Sprintf("ping %d", i))
			require.NoError(t, cs.SendMsg(&m))
			var out []byte
			require.NoError(t, cs.RecvMsg(&out))
			assert.Equal(t, "re: "+string(m), string(out))
		}
		require.NoError(t, cs.CloseSend())
		var out []byte
		assert.Equal(t, io.EOF, cs.RecvMsg(&out))
		assert.Equal(t, []string{"done"}, cs.Trailer().Get("x-bidi"))
	})
}
