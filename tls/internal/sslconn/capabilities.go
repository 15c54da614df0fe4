package sslconn

import (
	"sync"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// groupNames are the library spellings of Gantry's groups.
var groupNames = map[gtls.Group]string{
	gtls.X25519MLKEM768: "X25519MLKEM768",
	gtls.X25519:         "X25519",
	gtls.P256:           "P-256",
	gtls.P384:           "P-384",
}

// Probe returns a function that reports what lib supports, asking it once:
// a group is listed only if the library accepts it, so a Debian build
// without the post-quantum hybrid never offers it. Each call returns a
// fresh copy, which the caller may change.
func Probe(lib Library) func() gtls.Capabilities {
	probed := sync.OnceValue(func() gtls.Capabilities {
		caps := gtls.Capabilities{
			Versions: []uint16{gtls.VersionTLS12, gtls.VersionTLS13},
			// BoringSSL has no setting for the TLS 1.3 suites: saying so
			// lets the policy refuse a narrowed list at its config key,
			// before anything is compiled.
			FixedTLS13Suites: lib.FixedTLS13Suites(),
			// The shim drives no server-side ECH (Debian's OpenSSL 3.0 has
			// none, and BoringSSL's is not wired in), so a config with ECH
			// keys is refused at its key rather than served without ECH.
			ServerECH: false,
		}
		for _, g := range []gtls.Group{gtls.X25519MLKEM768, gtls.X25519, gtls.P256, gtls.P384} {
			if lib.HasGroup(groupNames[g]) {
				caps.Groups = append(caps.Groups, g)
			}
		}
		for _, s := range gtls.Suites() {
			caps.CipherSuites = append(caps.CipherSuites, s.ID)
		}
		return caps
	})
	return func() gtls.Capabilities {
		c := probed()
		return gtls.Capabilities{
			Versions:         append([]uint16(nil), c.Versions...),
			Groups:           append([]gtls.Group(nil), c.Groups...),
			CipherSuites:     append([]uint16(nil), c.CipherSuites...),
			FixedTLS13Suites: c.FixedTLS13Suites,
			ServerECH:        c.ServerECH,
		}
	}
}
