package main

import (
	"context"
	"strings"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/internal/metrics"
	"github.com/gantry-proxy/gantry/proxy"
)

// watchCertificates reloads the certificate, key, CA, CRL and ticket key
// files of the serving generation when they change on disk, until ctx
// ends. The set to watch and the interval are the current generation's,
// so a config reload changes them.
func (rt *server) watchCertificates(ctx context.Context) {
	certs.Watch(ctx,
		func() (time.Duration, bool) { return rt.current().cfg.Server.WatchFiles.On() },
		func() []string { return rt.current().p.CertificateFiles() },
		rt.reloadCertificates)
}

// reloadCertificates re-reads the files of the current generation after
// changed changed. Each listener and upstream takes its new files for new
// handshakes or, when one is refused, keeps serving its old ones; the
// refusal is logged with the file's key and reason, and counted.
func (rt *server) reloadCertificates(changed []string) {
	rt.opMu.Lock() // not in the middle of a reload or an upgrade
	defer rt.opMu.Unlock()
	if rt.draining.Load() {
		return
	}
	g := rt.current()
	err := g.p.ReloadCertificates()
	if rt.ops != nil {
		rt.ops.CertificateReload(err)
		rt.ops.SetCertificates(loadedCertificates(g.p))
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			rt.log.Error("certificate reload refused; the previous certificates keep serving", "changed", changed, "error", line)
		}
		return
	}
	rt.log.Info("certificates reloaded", "changed", changed)
}

// loadedCertificates are the certificates p holds from its files, for the
// expiry gauge.
func loadedCertificates(p *proxy.Proxy) []metrics.Certificate {
	loaded := p.LoadedCertificates()
	out := make([]metrics.Certificate, len(loaded))
	for i, c := range loaded {
		out[i] = metrics.Certificate{Listener: c.Listener, Role: c.Role, Leaf: c.Leaf}
	}
	return out
}
