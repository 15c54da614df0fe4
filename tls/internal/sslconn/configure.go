package sslconn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	gtls "github.com/gantry-proxy/gantry/tls"
)

// policy puts resolved policy parameters into library terms.
func policy(lib Library, cc *ContextConfig, p gtls.Params) error {
	cc.MinVersion, cc.MaxVersion = p.MinVersion, p.MaxVersion
	var tls12, tls13 []string
	for _, s := range p.TLS12Suites {
		tls12 = append(tls12, s.OpenSSLName)
	}
	for _, s := range p.TLS13Suites {
		tls13 = append(tls13, s.Name)
	}
	if lib.FixedTLS13Suites() && len(tls13) > 0 && len(tls13) != countTLS13() {
		return fmt.Errorf("%s: TLS 1.3 cipher suites cannot be narrowed: BoringSSL always enables all of them", lib.Flavor())
	}
	cc.TLS12Ciphers, cc.TLS13Ciphers = strings.Join(tls12, ":"), strings.Join(tls13, ":")
	var groups []string
	for _, g := range p.Groups {
		groups = append(groups, groupNames[g])
	}
	if !cc.Server && p.MinVersion <= gtls.VersionTLS12 {
		// In TLS 1.2 an ECDSA certificate must be on a curve the client
		// lists among its groups (RFC 8422): OpenSSL servers and BoringSSL
		// clients enforce it, so a client narrowed to X25519 could never
		// use a P-256 certificate. The certificate curves go last: the
		// server still picks the key exchange from the configured groups
		// first.
		for _, g := range []gtls.Group{gtls.P256, gtls.P384} {
			if !slices.Contains(p.Groups, g) {
				groups = append(groups, groupNames[g])
			}
		}
	}
	cc.Groups = strings.Join(groups, ":")
	return nil
}

func countTLS13() int {
	n := 0
	for _, s := range gtls.Suites() {
		if s.TLS13 {
			n++
		}
	}
	return n
}

// certKey encodes the key as PKCS #8, which the library decodes whatever
// the key type. The caller wipes the encoded key once the context is made.
func certKey(lib Library, cert gtls.Certificate) (CertKey, error) {
	key, err := x509.MarshalPKCS8PrivateKey(cert.Key)
	if err != nil {
		return CertKey{}, fmt.Errorf("%s: encode private key: %w", lib.Flavor(), err)
	}
	ck := CertKey{Chain: cert.Chain, Key: key}
	if len(cert.SCTs) > 0 {
		if ck.SCTList, err = gtls.JoinSCTList(cert.SCTs); err != nil {
			return CertKey{}, fmt.Errorf("%s: %w", lib.Flavor(), err)
		}
	}
	return ck, nil
}

// wipe clears the secrets of a context configuration: the library has its
// own copies once the context is made.
func (cc *ContextConfig) wipe() {
	for _, ck := range cc.Certs {
		clear(ck.Key)
	}
	clear(cc.TicketKeys)
}

// alpnWire encodes protocol names as length-prefixed bytes.
func alpnWire(protos []string) []byte {
	var wire []byte
	for _, p := range protos {
		wire = append(wire, byte(len(p)))
		wire = append(wire, p...)
	}
	return wire
}

// ticketKeys is the server's ticket key material, nil when tickets are off.
func ticketKeys(lib Library, disabled bool, keys []gtls.SessionTicketKey) ([]byte, error) {
	if disabled {
		return nil, nil
	}
	if len(keys) == 0 {
		// A random key per Server: tickets survive only as long as it does,
		// which is what "no keys configured" promises.
		var k gtls.SessionTicketKey
		if _, err := rand.Read(k[:]); err != nil {
			return nil, fmt.Errorf("%s: session ticket key: %w", lib.Flavor(), err)
		}
		keys = []gtls.SessionTicketKey{k}
	}
	material := make([]byte, 0, 80*len(keys))
	for _, k := range keys {
		m := k.Expand()
		material = append(material, m.Name[:]...)
		material = append(material, m.AESKey[:]...)
		material = append(material, m.HMACKey[:]...)
	}
	return material, nil
}

// sessionIDContext derives the id a session must carry to resume on a
// server. Sessions carry the client's identity, so one may resume only
// where the same client-auth rules hold.
func sessionIDContext(cfg *gtls.ServerConfig) []byte {
	sid := sha256.New()
	fmt.Fprintf(sid, "gantry client auth %d\n", cfg.ClientAuth)
	for _, ca := range cfg.ClientCAs {
		sid.Write(ca.Raw)
	}
	return sid.Sum(nil)
}

// checked is what ServerConfig and ClientConfig share before compiling.
type checked interface {
	Validate() error
	Params(gtls.Capabilities) (gtls.Params, error)
}

// compile is the path both sides take: validate, resolve the policy
// against caps, translate into the library's terms, make the context. The
// translation is wiped (it holds key material) whatever happens.
func compile(lib Library, caps gtls.Capabilities, cfg checked, translate func(gtls.Params) (*ContextConfig, error)) (Context, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := cfg.Params(caps)
	if err != nil {
		return nil, err
	}
	cc, err := translate(params)
	defer cc.wipe()
	if err != nil {
		return nil, err
	}
	return lib.NewContext(cc)
}
