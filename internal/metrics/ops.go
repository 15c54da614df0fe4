package metrics

import (
	"crypto/x509"

	"github.com/prometheus/client_golang/prometheus"
)

// Ops counts what an operator does to a running proxy and what it learns
// from outside: reloads, upgrades and certificate lifetimes.
// Alerts on these catch a config that stopped loading, an upgrade that
// did not happen or a certificate about to expire, none of which shows in
// the request counters until it is too late.
type Ops struct {
	reloads     *prometheus.CounterVec
	upgrades    *prometheus.CounterVec
	certReloads *prometheus.CounterVec
	expiry      *prometheus.GaugeVec
	crlFetch    *prometheus.CounterVec
}

// Ops registers the operational collectors on m's registry; call it once.
func (m *Metrics) Ops() *Ops {
	o := &Ops{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_reloads_total",
			Help: "Config reloads (SIGHUP or gantry reload) by result: ok, or error when the new config was refused and the old one kept.",
		}, []string{"result"}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_upgrades_total",
			Help: "Binary upgrades this process attempted (SIGUSR2 or gantry upgrade) by result: ok (handed over, now draining) or error (the new process failed; this one goes on serving).",
		}, []string{"result"}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_certificate_reloads_total",
			Help: "Reloads of certificate, key, CA, CRL and ticket key files after they changed on disk, by result: ok, or error when a file was refused (broken, half-written, mismatched) and the previous set kept serving.",
		}, []string{"result"}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_certificate_expiry_timestamp_seconds",
			Help: "NotAfter of each certificate loaded from files, as a Unix time, by listener (empty for an upstream's), role (served, client_ca, upstream_client), subject name and serial number.",
		}, []string{"listener", "role", "name", "serial"}),
		crlFetch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_crl_fetch_total",
			Help: "Fetches of client CRLs from their distribution points (client_auth.crl_fetch) by result: ok (a new list), unchanged (the list held was served again) or error (the list held, if any, is kept).",
		}, []string{"result"}),
	}
	for _, r := range []string{ResultOK, ResultError} {
		o.reloads.WithLabelValues(r)
		o.upgrades.WithLabelValues(r)
		o.certReloads.WithLabelValues(r)
	}
	for _, r := range []string{ResultOK, CRLFetchUnchanged, ResultError} {
		o.crlFetch.WithLabelValues(r)
	}
	m.reg.MustRegister(o.reloads, o.upgrades, o.certReloads, o.expiry)
	m.reg.MustRegister(o.crlFetch)
	return o
}

// CRLFetchUnchanged is the result of a CRL fetch that brought the list
// already held.
const CRLFetchUnchanged = "unchanged"

// CRLFetch counts one fetch of a client CRL by result: ok, unchanged or
// error.
func (o *Ops) CRLFetch(result string) { o.crlFetch.WithLabelValues(result).Inc() }

// Reload counts one reload; err nil means it took effect.
func (o *Ops) Reload(err error) { o.reloads.WithLabelValues(result(err)).Inc() }

// CertificateReload counts one reload of changed certificate files; err
// nil means every listener and upstream took the new files.
func (o *Ops) CertificateReload(err error) { o.certReloads.WithLabelValues(result(err)).Inc() }

// Upgrade counts one upgrade attempt.
func (o *Ops) Upgrade(err error) { o.upgrades.WithLabelValues(result(err)).Inc() }

// Certificate is one loaded certificate for the expiry gauge.
type Certificate struct {
	Listener string
	Role     string
	Leaf     *x509.Certificate
}

// SetCertificates replaces the expiry gauge with the certificates now
// served, so a certificate dropped by a reload stops being reported.
func (o *Ops) SetCertificates(certs []Certificate) {
	o.expiry.Reset()
	for _, c := range certs {
		name := c.Leaf.Subject.CommonName
		if len(c.Leaf.DNSNames) > 0 {
			name = c.Leaf.DNSNames[0]
		}
		o.expiry.WithLabelValues(c.Listener, c.Role, name, c.Leaf.SerialNumber.Text(16)).Set(float64(c.Leaf.NotAfter.Unix()))
	}
}

func result(err error) string {
	if err != nil {
		return ResultError
	}
	return ResultOK
}
