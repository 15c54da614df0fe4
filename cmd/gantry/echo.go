package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/internal/demo"
)

func init() {
	register(command{Name: "echo", Summary: "serve a demo origin that echoes each request's headers", Run: runEcho})
}

const echoAbout = `Serves plain HTTP on --listen with the demo origin that 'gantry serve'
without a config uses: it answers every request with its request line and
headers (Authorization and Cookie values shown as [REDACTED]), so you can
see what Gantry sends upstream — the X-Forwarded-* headers, and the
Client-Cert or X-Forwarded-Client-Cert headers of client_identity.forward.
For trying configs, never for production. Stops on SIGINT or SIGTERM.

Example:
  gantry echo --listen 127.0.0.1:3000 &
  # upstreams: {app: {addresses: ["127.0.0.1:3000"]}}`

func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("echo", "gantry echo [--listen 127.0.0.1:3000]", echoAbout)
	addr := f.String("listen", "127.0.0.1:3000", "host:port to serve plain HTTP on")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if code, done := f.noArgs(stderr); done {
		return code
	}
	o, err := demo.StartOn(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "gantry echo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "echo origin on http://%s/\n", o.Addr())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	done, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Close(done); err != nil {
		fmt.Fprintf(stderr, "gantry echo: %v\n", err)
		return 1
	}
	return 0
}
