package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd"
)

// A proxy with a TLS listener on the default backend (gostd), two
// routes, and hooks: requests without an API key are refused before any
// upstream is chosen, and the key never travels upstream.
func ExampleNew() {
	cert, err := certs.LoadKeyPair("cert.pem", "key.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := proxy.New(proxy.Options{
		Listeners: []proxy.ListenerOptions{{
			Addr: "127.0.0.1:8443",
			TLS:  &proxy.ListenerTLS{Backend: "gostd", Config: gantrytls.ServerConfig{Certificates: []gantrytls.Certificate{cert}}},
		}},
		Upstreams: map[string]*proxy.UpstreamGroupOptions{
			"api": {Addrs: []string{"10.0.0.1:8080", "10.0.0.2:8080"}, Balance: proxy.BalanceLeastConn},
			"web": {Addrs: []string{"10.0.0.3:8080"}},
		},
		Routes: []proxy.RouteOptions{
			{Host: "api.example.com", Upstream: "api"},
			{Upstream: "web"},
		},
		Timeouts:  proxy.Timeouts{UpstreamResponseHeader: 10 * time.Second},
		AccessLog: proxy.AccessLogOptions{Writer: os.Stdout, RedactHeaders: []string{"X-Api-Key"}},
		Hooks: proxy.Hooks{
			RequestFilter: func(s *proxy.Session) (bool, error) {
				if s.Request.Header.Has("X-Api-Key") {
					return false, nil
				}
				return false, &proxy.StatusError{Status: http.StatusUnauthorized}
			},
			UpstreamRequestFilter: func(s *proxy.Session, req *proxy.RequestHead) error {
				req.Header.Del("X-Api-Key")
				return nil
			},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real program cancels on SIGTERM; here it stops at once
	_ = p.ListenAndServe(ctx)
}
