package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

// options builds the proxy configuration from the flags' values.
func options(listen, upstream string, cert *gantrytls.Certificate, backend string) proxy.Options {
	l := proxy.ListenerOptions{Addr: listen}
	if cert != nil {
		l.TLS = &proxy.ListenerTLS{Backend: backend, Config: gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{*cert}}}
	}
	return proxy.Options{
		Listeners: []proxy.ListenerOptions{l},
		Upstreams: map[string]*proxy.UpstreamGroupOptions{"origin": {Addrs: []string{upstream}, MaxIdleConns: 1024}},
		Routes:    []proxy.RouteOptions{{Upstream: "origin"}},
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8443", "address to serve on")
	upstream := flag.String("upstream", "127.0.0.1:8080", "origin host:port (plain HTTP)")
	certFile := flag.String("cert", "", "PEM certificate chain (plaintext HTTP/1.1 when empty)")
	keyFile := flag.String("key", "", "PEM private key")
	backend := flag.String("backend", gantrytls.DefaultBackend, "TLS backend")
	flag.Parse()

	var cert *gantrytls.Certificate
	if *certFile != "" {
		c, err := certs.LoadKeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cert = &c
	}
	p, err := proxy.New(options(*listen, *upstream, cert, *backend))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := p.ListenAndServe(ctx); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
