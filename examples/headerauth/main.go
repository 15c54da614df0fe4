package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

// newProxy builds the proxy: everything to upstream, guarded by token.
func newProxy(listen, upstream, token string, tlsCfg *proxy.ListenerTLS) (*proxy.Proxy, error) {
	if token == "" {
		return nil, errors.New("headerauth: empty token")
	}
	want := []byte("Bearer " + token)
	return proxy.New(proxy.Options{
		Listeners: []proxy.ListenerOptions{{Addr: listen, TLS: tlsCfg}},
		Upstreams: map[string]*proxy.UpstreamGroupOptions{"origin": {Addrs: []string{upstream}}},
		Routes:    []proxy.RouteOptions{{Upstream: "origin"}},
		AccessLog: proxy.AccessLogOptions{Writer: os.Stdout},
		Hooks: proxy.Hooks{
			RequestFilter: func(s *proxy.Session) (bool, error) {
				got := s.Request.Header.Get("Authorization")
				if subtle.ConstantTimeCompare(got, want) == 1 {
					return false, nil
				}
				var h proxy.Header
				h.Add("Content-Type", "text/plain; charset=utf-8")
				h.Add("WWW-Authenticate", `Bearer realm="gantry"`)
				return true, s.Respond(http.StatusUnauthorized, h, []byte("missing or wrong token\n"))
			},
			UpstreamRequestFilter: func(s *proxy.Session, req *proxy.RequestHead) error {
				req.Header.Del("Authorization")
				req.Header.Set("X-Authenticated-By", "gantry-headerauth")
				return nil
			},
		},
	})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	upstream := flag.String("upstream", "127.0.0.1:9000", "origin host:port (plain HTTP)")
	token := flag.String("token", os.Getenv("HEADERAUTH_TOKEN"), "bearer token clients must send")
	certFile := flag.String("cert", "", "PEM certificate chain (TLS when set with -key)")
	keyFile := flag.String("key", "", "PEM private key")
	flag.Parse()

	var tlsCfg *proxy.ListenerTLS
	if *certFile != "" {
		cert, err := certs.LoadKeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		tlsCfg = &proxy.ListenerTLS{Config: gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{cert}}}
	}
	p, err := newProxy(*listen, *upstream, *token, tlsCfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("headerauth: serving", "listen", *listen, "upstream", *upstream)
	if err := p.ListenAndServe(ctx); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
