package clienthello

import (
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// specHello is the ClientHello of the JA4 specification's worked example
// (technical_details/JA4.md): its ciphers, extensions and signature
// algorithms in the order the specification lists them as sent, GREASE
// added in each list to check it is ignored.
func specHello(t testing.TB) []byte {
	t.Helper()
	ciphers := []uint16{0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	order := []uint16{0xdada, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x1a1a}
	sigs := []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}
	return buildHello(t, ciphers, order, func(typ uint16, b *cryptobyte.Builder) {
		switch typ {
		case ExtServerName:
			addServerName(b, "example.com")
		case ExtALPN:
			addALPN(b, "h2", "http/1.1")
		case ExtSignatureAlgorithms:
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, s := range sigs {
					b.AddUint16(s)
				}
			})
		case ExtSupportedGroups:
			addGroups(b)
		case ExtSupportedVersions:
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16(0x8a8a)
				b.AddUint16(0x0304)
				b.AddUint16(0x0303)
			})
		}
	})
}

func TestJA4SpecificationExample(t *testing.T) {
	h, err := Parse(specHello(t))
	if err != nil {
		t.Fatal(err)
	}
	// The three strings the specification publishes for this hello.
	const (
		wantJA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
		wantRaw = "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
	)
	if got := h.JA4(); got != wantJA4 {
		t.Errorf("JA4 = %s, want %s", got, wantJA4)
	}
	if got := h.JA4Raw(); got != wantRaw {
		t.Errorf("JA4_r = %s\nwant   %s", got, wantRaw)
	}
}

func TestJA4Parts(t *testing.T) {
	sigless := func(alpn []string, sni string, versions bool) *Hello {
		t.Helper()
		msg := buildHello(t, []uint16{0x1301, 0x0a0a}, []uint16{ExtServerName, ExtALPN, 0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d, 0x0033, 0x4469, 0xff01}, func(typ uint16, b *cryptobyte.Builder) {
			switch typ {
			case ExtServerName:
				addServerName(b, "dropped.example") // dropped below when sni is ""
			case ExtALPN:
				addALPN(b, append(alpn, "dropped")...)
			case ExtSupportedGroups:
				addGroups(b)
			case ExtSignatureAlgorithms:
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0403) })
			case ExtSupportedVersions:
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0303) })
			}
		})
		if sni == "" {
			msg = dropExtension(t, msg, ExtServerName)
		}
		if len(alpn) == 0 {
			msg = dropExtension(t, msg, ExtALPN)
		}
		if !versions {
			msg = dropExtension(t, msg, ExtSupportedVersions)
		}
		h, err := Parse(msg)
		if err != nil {
			t.Fatal(err)
		}
		// The specification hashes its extension list once without
		// signature algorithms, 000d still listed.
		h.SignatureAlgorithms = nil
		return h
	}
	// The specification's hash of this extension list without signature
	// algorithms: no trailing underscore.
	h := sigless([]string{"http/1.1"}, "a.example", true)
	if got := h.JA4(); !strings.HasPrefix(got, "t12d0116h1_") || !strings.HasSuffix(got, "_6d807ffa2a79") {
		t.Errorf("JA4 = %s, want t12d0116h1_…_6d807ffa2a79", got)
	}
	h = sigless(nil, "", false)
	// No SNI, no ALPN, no supported_versions: the hello's own version.
	if got := h.JA4(); got[:10] != "t12i011300" {
		t.Errorf("JA4 = %s, want t12i011300_…", got)
	}
	h = sigless([]string{"\xab\xcd"}, "a.example", true)
	if got := h.JA4()[8:10]; got != "ad" {
		t.Errorf("ALPN part of a non-alphanumeric protocol = %q, want ad", got)
	}
}

var ja4Form = regexp.MustCompile(`^t(13|12|11|10|s3|s2|s1|00)[di]\d{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := range 1 << 16 {
		if IsGREASE(uint16(v)) {
			n++
			if v&0xff != v>>8 || v&0x0f != 0x0a {
				t.Errorf("%#04x counted as GREASE", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, want 16", n)
	}
}

// buildHello makes a ClientHello handshake message with the given cipher
// suites and extensions in order; body writes the data of each extension
// (left empty where it writes nothing).
func buildHello(t testing.TB, ciphers, exts []uint16, body func(uint16, *cryptobyte.Builder)) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(make([]byte, 32))
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range ciphers {
				b.AddUint16(c)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				b.AddUint16(e)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { body(e, b) })
			}
		})
	})
	msg, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func addServerName(b *cryptobyte.Builder, name string) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
	})
}

func addGroups(b *cryptobyte.Builder) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x001d) })
}

func addALPN(b *cryptobyte.Builder, protos ...string) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, p := range protos {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
		}
	})
}

// dropExtension re-serialises msg without extension typ.
func dropExtension(t *testing.T, msg []byte, typ uint16) []byte {
	t.Helper()
	h, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	h.Extensions = slicesDeleteType(h.Extensions, typ)
	out, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func slicesDeleteType(es []Extension, typ uint16) []Extension {
	out := es[:0:0]
	for _, e := range es {
		if e.Type != typ {
			out = append(out, e)
		}
	}
	return out
}
