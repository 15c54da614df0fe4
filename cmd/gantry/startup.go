package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/gantry-proxy/gantry/internal/config"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// printStartup writes the block `gantry serve` and `gantry proxy` print
// once every listener is bound: per listener its address, backend and
// library, policy, ALPN and client-auth mode, then the routes with where
// each one goes. It is what an operator checks first when a request does
// not arrive where they expected, so it says what the proxy will actually
// do (defaults applied), not what the file said.
//
// The first line of each listener keeps the form scripts and tests parse:
//
//	gantry VERSION: listener "NAME" on https://ADDR (TLS backend NAME...)
//
// and the other lines are indented, so a grep for `listener "` still finds
// exactly one line per listener.
func printStartup(w io.Writer, c *config.Config, addrs []net.Addr) {
	for i, a := range addrs {
		l := c.Listeners[i]
		if l.TLS == nil {
			fmt.Fprintf(w, "gantry %s: listener %q on http://%s (no TLS)\n", version, l.Name, a)
			continue
		}
		fmt.Fprintf(w, "gantry %s: listener %q on https://%s (TLS backend %s, %s)\n",
			version, l.Name, a, l.TLS.Backend, backendLibrary(l.TLS.Backend))
		fmt.Fprintf(w, "  policy %s, ALPN %s, client auth %s\n",
			orDefault(l.TLS.Config.Policy, gantrytls.PolicyIntermediate),
			strings.Join(orDefaults(l.TLS.Config.ALPN, "h2", "http/1.1"), ","),
			clientAuth(l.TLS))
		if keys := l.TLS.Config.ECHKeys; len(keys) > 0 {
			fmt.Fprintf(w, "  ECH: %d key(s), public name %s, retry configs: %s\n",
				len(keys), echPublicNames(keys), l.TLS.Files.ECH.SendAsRetry)
		}
	}
	for _, r := range c.Routes {
		fmt.Fprintf(w, "  route %s %s -> upstream %q: %s\n", orDefault(r.Host, "*"), orDefault(r.PathPrefix, "/"), r.Upstream, upstreamTarget(c.Upstreams[r.Upstream]))
	}
}

func clientAuth(t *proxy.ListenerTLS) string {
	mode := t.Config.ClientAuth.String()
	if t.Files.ClientAuth.CA != "" {
		return mode + " (CA " + t.Files.ClientAuth.CA + ")"
	}
	return mode
}

// upstreamTarget says how a group is reached: its addresses as URLs and,
// for TLS, the backend and what the server certificate is verified
// against, since "which roots" is the usual question when a TLS upstream
// fails.
func upstreamTarget(g *proxy.UpstreamGroupOptions) string {
	if g == nil {
		return "(no such upstream)"
	}
	scheme := "http://"
	if g.TLS != nil {
		scheme = "https://"
	}
	urls := make([]string, len(g.Addrs))
	for i, a := range g.Addrs {
		urls[i] = scheme + a
	}
	s := strings.Join(urls, ", ")
	if g.TLS == nil {
		return s
	}
	roots := "system roots"
	switch {
	case g.TLS.Config.DisableVerifyCert:
		roots = "certificate NOT verified"
	case g.TLS.Files.CA != "":
		roots = "CA " + g.TLS.Files.CA
	}
	return fmt.Sprintf("%s (TLS backend %s, verified against %s)", s, g.TLS.Backend, roots)
}

// backendLibrary is the library name and version of a registered backend;
// validation already refused backends this binary lacks.
func backendLibrary(name string) string {
	b, err := gantrytls.Lookup(name)
	if err != nil {
		return "library unknown"
	}
	return b.Library()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDefaults(s []string, def ...string) []string {
	if len(s) == 0 {
		return def
	}
	return s
}

// echPublicNames lists the keys' public names once each, in key order.
func echPublicNames(keys []gantrytls.ECHKey) string {
	var names []string
	for _, k := range keys {
		if c, err := gantrytls.ParseECHConfig(k.Config); err == nil && !slices.Contains(names, c.PublicName) {
			names = append(names, c.PublicName)
		}
	}
	return strings.Join(names, ", ")
}
