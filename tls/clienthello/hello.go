package clienthello

import (
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// Extension types Parse looks into (IANA TLS ExtensionType Values).
const (
	ExtServerName          uint16 = 0
	ExtSupportedGroups     uint16 = 10
	ExtSignatureAlgorithms uint16 = 13
	ExtALPN                uint16 = 16
	ExtSupportedVersions   uint16 = 43
)

// Extension is one ClientHello extension as sent.
type Extension struct {
	Type uint16
	Data []byte
}

// Hello is a parsed ClientHello. Slices point into the buffer Parse was
// given (Read's own), so a Hello is as cheap as the bytes it came from.
type Hello struct {
	// LegacyVersion is the version field of the hello itself (0x0303 for
	// TLS 1.3 clients, which announce 1.3 in supported_versions).
	LegacyVersion      uint16
	Random             []byte
	SessionID          []byte
	CipherSuites       []uint16
	CompressionMethods []byte
	// Extensions in the order the client sent them; nil when the hello
	// has no extensions block at all.
	Extensions []Extension
	// HasExtensions distinguishes an empty extensions block from none.
	HasExtensions bool

	// From the extensions, when present and well formed.

	// ServerName is the host_name of server_name (SNI); "" when absent.
	ServerName string
	// HasServerName is true when the server_name extension was sent,
	// even with no host_name in it.
	HasServerName       bool
	ALPN                []string
	SupportedVersions   []uint16
	SignatureAlgorithms []uint16
	SupportedGroups     []uint16
}

// Parse parses a ClientHello handshake message, its 4-byte header
// included, and refuses anything a conforming client cannot send:
// trailing bytes, a duplicated extension, a server name with bytes that
// are not printable ASCII, a malformed extension Parse looks into.
func Parse(msg []byte) (*Hello, error) {
	s := cryptobyte.String(msg)
	var typ uint8
	var body cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeClientHello || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, fmt.Errorf("%w: handshake header", ErrMalformed)
	}
	h := &Hello{}
	var suites, comp, sid cryptobyte.String
	if !body.ReadUint16(&h.LegacyVersion) ||
		!body.ReadBytes(&h.Random, 32) ||
		!body.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!body.ReadUint16LengthPrefixed(&suites) || len(suites) < 2 || len(suites)%2 != 0 ||
		!body.ReadUint8LengthPrefixed(&comp) || len(comp) < 1 {
		return nil, fmt.Errorf("%w: fixed fields", ErrMalformed)
	}
	h.SessionID, h.CompressionMethods = sid, comp
	h.CipherSuites = make([]uint16, 0, len(suites)/2)
	for !suites.Empty() {
		var c uint16
		suites.ReadUint16(&c)
		h.CipherSuites = append(h.CipherSuites, c)
	}
	if body.Empty() {
		return h, nil
	}
	var exts cryptobyte.String
	if !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return nil, fmt.Errorf("%w: extensions block", ErrMalformed)
	}
	h.HasExtensions = true
	h.Extensions = make([]Extension, 0, 24)
	for !exts.Empty() {
		var e Extension
		var data cryptobyte.String
		if !exts.ReadUint16(&e.Type) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, fmt.Errorf("%w: extension header", ErrMalformed)
		}
		e.Data = data
		if err := h.readExtension(e.Type, data); err != nil {
			return nil, err
		}
		h.Extensions = append(h.Extensions, e)
	}
	if t, dup := duplicate(h.Extensions); dup {
		return nil, fmt.Errorf("%w: extension %#04x sent twice", ErrMalformed, t)
	}
	return h, nil
}

// duplicate finds an extension type sent twice (RFC 8446, section 4.2),
// in O(n log n) however many empty extensions a client packs in.
func duplicate(es []Extension) (uint16, bool) {
	var small [32]uint16
	types := small[:0]
	for _, e := range es {
		types = append(types, e.Type)
	}
	slices.Sort(types)
	for i := 1; i < len(types); i++ {
		if types[i] == types[i-1] {
			return types[i], true
		}
	}
	return 0, false
}

// readExtension fills the fields of h that come from extension typ.
func (h *Hello) readExtension(typ uint16, data cryptobyte.String) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s extension", ErrMalformed, what) }
	switch typ {
	case ExtServerName:
		h.HasServerName = true
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
			return bad("server_name")
		}
		for !list.Empty() {
			var kind uint8
			var name cryptobyte.String
			if !list.ReadUint8(&kind) || !list.ReadUint16LengthPrefixed(&name) {
				return bad("server_name")
			}
			if kind != 0 {
				continue // RFC 6066: only host_name is defined
			}
			if h.ServerName != "" || len(name) == 0 || !printable(name) {
				return bad("server_name")
			}
			h.ServerName = string(name)
		}
	case ExtALPN:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
			return bad("application_layer_protocol_negotiation")
		}
		for !list.Empty() {
			var p cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&p) || len(p) == 0 {
				return bad("application_layer_protocol_negotiation")
			}
			h.ALPN = append(h.ALPN, string(p))
		}
	case ExtSupportedVersions:
		var list cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() {
			return bad("supported_versions")
		}
		var err error
		if h.SupportedVersions, err = readUint16s(list); err != nil {
			return bad("supported_versions")
		}
	case ExtSignatureAlgorithms:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
			return bad("signature_algorithms")
		}
		var err error
		if h.SignatureAlgorithms, err = readUint16s(list); err != nil {
			return bad("signature_algorithms")
		}
	case ExtSupportedGroups:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
			return bad("supported_groups")
		}
		var err error
		if h.SupportedGroups, err = readUint16s(list); err != nil {
			return bad("supported_groups")
		}
	}
	return nil
}

func readUint16s(s cryptobyte.String) ([]uint16, error) {
	if len(s)%2 != 0 || len(s) == 0 {
		return nil, ErrMalformed
	}
	out := make([]uint16, 0, len(s)/2)
	for !s.Empty() {
		var v uint16
		s.ReadUint16(&v)
		out = append(out, v)
	}
	return out, nil
}

// printable reports whether a server name can be logged and compared as
// it is: printable ASCII, no spaces or control bytes.
func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// Marshal is the handshake message h describes, header included: for a
// Hello from Parse, the very bytes parsed (the fields Parse derives from
// extensions are not consulted; Extensions are).
func (h *Hello) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(h.LegacyVersion)
		b.AddBytes(h.Random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.SessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range h.CipherSuites {
				b.AddUint16(c)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.CompressionMethods) })
		if !h.HasExtensions && len(h.Extensions) == 0 {
			return
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range h.Extensions {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.Bytes()
}
