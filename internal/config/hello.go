package config

import (
	"errors"
	"fmt"

	"github.com/gantry-proxy/gantry/proxy"
	"github.com/gantry-proxy/gantry/proxy/listen"
)

// listenerHello checks what a listener does with the ClientHello it reads
// before the handshake: its sni allow-list, and that inspect_hello is not
// switched off under rules that need it.
func (c *Config) listenerHello(errs *errorList, key string, t *proxy.ListenerTLS) {
	if _, err := listen.NewSNIPolicy(t.SNI); err != nil {
		var fe *listen.FieldError
		if errors.As(err, &fe) {
			errs.add(key+".sni."+fe.Field, fe.Err)
		} else {
			errs.add(key+".sni", err)
		}
	}
	if t.InspectHello == nil || *t.InspectHello {
		return
	}
	if !t.SNI.Empty() {
		errs.addf(key+".inspect_hello", "is false, but sni (line %d) judges the ClientHello Gantry would not read", c.Line(key+".sni"))
	}
	if f := c.Server.Filter.JA4; len(f.Allow) > 0 || len(f.Deny) > 0 {
		errs.addf(key+".inspect_hello", "is false, but server.filter.ja4 (line %d) judges every TLS listener's ClientHello", c.Line("server.filter.ja4"))
	}
}

// validateJA4Filter checks server.filter.ja4: every entry a JA4 fingerprint.
func (c *Config) validateJA4Filter(errs *errorList) {
	f := &c.Server.Filter.JA4
	for _, list := range []struct {
		key     string
		entries []string
	}{{"server.filter.ja4.allow", f.Allow}, {"server.filter.ja4.deny", f.Deny}} {
		for i, s := range list.entries {
			if err := listen.CheckJA4(s); err != nil {
				errs.add(fmt.Sprintf("%s[%d]", list.key, i), err)
			}
		}
	}
}
