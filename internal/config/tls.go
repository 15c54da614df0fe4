package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/gantry-proxy/gantry/certs"
	"github.com/gantry-proxy/gantry/mtls"
	"github.com/gantry-proxy/gantry/proxy"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// placeAt records err under key. Errors from the tls and certs packages
// carry the field they are about (*tls.FieldError, possibly several joined),
// so each lands at its own key and line, e.g. listeners[0].tls.groups[1].
func placeAt(errs *errorList, key string, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			placeAt(errs, key, e)
		}
		return
	}
	var fe *gantrytls.FieldError
	if errors.As(err, &fe) && fe.Field != "" {
		errs.add(key+"."+fe.Field, fe.Err)
		return
	}
	errs.add(key, err)
}

// warn places each of warnings under key, as placeAt places errors, and
// keeps them for Warnings.
func (c *Config) warn(errs *errorList, key string, warnings []error) {
	if len(warnings) == 0 {
		return
	}
	w := &errorList{file: errs.file, lines: errs.lines}
	placeAt(w, key, errors.Join(warnings...))
	for _, e := range w.errs {
		c.loaded.warnings = append(c.loaded.warnings, e.Error())
	}
}

// lookupBackend applies the default backend and finds it, placing the
// error (which names the build tag) at the backend key.
func lookupBackend(errs *errorList, key string, name *string) gantrytls.Backend {
	b, err := gantrytls.Lookup(*name)
	if err != nil {
		errs.add(key+".backend", err)
		return nil
	}
	*name = b.Name() // what check prints and the proxy is given
	return b
}

// listenerTLS loads a listener's files into its server config and checks
// the result against its backend; handshake is the timeout used when
// tls.handshake_timeout is absent.
func (c *Config) listenerTLS(errs *errorList, key string, t *proxy.ListenerTLS, handshake time.Duration) {
	before := len(errs.errs)
	backend := lookupBackend(errs, key, &t.Backend)
	checkALPN(errs, key+".alpn", t.Config.ALPN)
	c.positive(errs, key+".handshake_timeout", t.Config.HandshakeTimeout)
	if !c.present(key + ".handshake_timeout") {
		t.Config.HandshakeTimeout = handshake
	}

	t.Files = t.Files.Resolve(c.dir)
	t.Files.KeyGuard = c.loaded.keyGuard
	c.crlFetchNotZero(errs, key+".client_auth.crl_fetch", t.Files.ClientAuth.CRLFetch)
	set, err := t.Files.Load()
	placeAt(errs, key, err)
	c.warn(errs, key, set.Warnings)
	t.Config = set.Apply(t.Config)
	checkClientIdentity(errs, key+".client_identity", &t.ClientIdentity)
	if mode := t.Config.ClientAuth; !t.ClientIdentity.Empty() && mode != gantrytls.ClientAuthVerifyIfGiven && mode != gantrytls.ClientAuthRequireAndVerify {
		errs.addf(key+".client_identity", "needs client_auth.mode verify-if-given or require-and-verify (it is %s): identity rules and forwarding only make sense for a verified certificate", mode)
	}

	if len(errs.errs) == before {
		checkAgainst(errs, key, &t.Config, backend)
	}
}

// checkClientIdentity places a client_identity problem at its key.
func checkClientIdentity(errs *errorList, key string, o *mtls.Options) {
	if err := o.Validate(); err != nil {
		var fe *mtls.FieldError
		if errors.As(err, &fe) {
			errs.add(key+"."+fe.Field, fe.Err)
			return
		}
		errs.add(key, err)
	}
}

// upstreamTLS loads an upstream group's files into its client config and
// checks it against its backend.
func (c *Config) upstreamTLS(errs *errorList, key string, t *proxy.UpstreamTLS) {
	before := len(errs.errs)
	backend := lookupBackend(errs, key, &t.Backend)
	checkALPN(errs, key+".alpn", t.Config.ALPN)
	t.Config.HandshakeTimeout = c.Server.Timeouts.UpstreamTLSHandshake

	t.Files = t.Files.Resolve(c.dir)
	t.Files.KeyGuard = c.loaded.keyGuard
	set, err := t.Files.Load()
	placeAt(errs, key, err)
	c.warn(errs, key, set.Warnings)
	t.Config = set.Apply(t.Config)
	c.upstreamCT(errs, key+".ct", t.Config.CT)

	if len(errs.errs) == before {
		checkAgainst(errs, key, &t.Config, backend)
	}
}

// tlsConfig is what ServerConfig and ClientConfig share for checking.
type tlsConfig interface {
	Validate() error
	Params(gantrytls.Capabilities) (gantrytls.Params, error)
}

// checkAgainst runs the seam's own checks and then the backend's
// capabilities. It comes last, once the parts before are known to be
// sound, so each problem is reported once and at its key.
func checkAgainst(errs *errorList, key string, cfg tlsConfig, backend gantrytls.Backend) {
	if err := cfg.Validate(); err != nil {
		placeAt(errs, key, err)
		return
	}
	if backend == nil {
		return
	}
	if _, err := cfg.Params(backend.Capabilities()); err != nil {
		var fe *gantrytls.FieldError
		if errors.As(err, &fe) && fe.Field != "" {
			key, err = key+"."+fe.Field, fe.Err
		}
		errs.add(key, fmt.Errorf("backend %s: %w", backend.Name(), err))
	}
}

func checkALPN(errs *errorList, key string, alpn []string) {
	for i, p := range alpn {
		if !knownALPN[p] {
			errs.addf(fmt.Sprintf("%s[%d]", key, i), "protocol %q is not one Gantry speaks (want h2 or http/1.1)", p)
		}
	}
}

// crlFetchNotZero refuses a crl_fetch bound written as zero: to a Go
// caller zero means the default, but in a file it reads as "no bound",
// which none of them can be. Negative values are certs' to refuse.
func (c *Config) crlFetchNotZero(errs *errorList, key string, o certs.CRLFetch) {
	for _, b := range []struct {
		name string
		zero bool
	}{
		{"timeout", o.Timeout == 0}, {"refresh_before", o.RefreshBefore == 0},
		{"max_bytes", o.MaxBytes == 0}, {"max_urls", o.MaxURLs == 0},
	} {
		if b.zero && c.present(key+"."+b.name) {
			errs.addf(key+"."+b.name, "must be positive (leave it out for the default)")
		}
	}
}
