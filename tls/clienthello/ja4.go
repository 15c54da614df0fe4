package clienthello

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// JA4 is FoxIO's JA4 fingerprint of the hello, as a TLS-over-TCP client:
// "t13d1516h2_8daaf6152771_e5627efa2ab1". GREASE values are ignored
// everywhere; see the package tests for the specification's example.
func (h *Hello) JA4() string { return h.ja4(false) }

// JA4Raw is the fingerprint before hashing (JA4_r): the sorted cipher
// list and the sorted extension list followed by the signature
// algorithms, each as 4-digit lowercase hex.
func (h *Hello) JA4Raw() string { return h.ja4(true) }

func (h *Hello) ja4(raw bool) string {
	ciphers := make([]uint16, 0, len(h.CipherSuites))
	for _, c := range h.CipherSuites {
		if !IsGREASE(c) {
			ciphers = append(ciphers, c)
		}
	}
	exts := make([]uint16, 0, len(h.Extensions))
	counted := 0
	for _, e := range h.Extensions {
		if IsGREASE(e.Type) {
			continue
		}
		counted++
		// SNI and ALPN are in the first part already; leaving them out
		// of the hash keeps it the same whether the client dials a name
		// or an address, and whatever protocols it offers.
		if e.Type != ExtServerName && e.Type != ExtALPN {
			exts = append(exts, e.Type)
		}
	}
	slices.Sort(ciphers)
	slices.Sort(exts)

	out := make([]byte, 0, 36+5*(len(ciphers)+len(exts)+len(h.SignatureAlgorithms)))
	out = append(out, 't')
	out = append(out, h.versionCode()...)
	if h.HasServerName {
		out = append(out, 'd')
	} else {
		out = append(out, 'i')
	}
	out = appendCount(out, len(ciphers))
	out = appendCount(out, counted)
	out = h.appendALPN(out)
	out = append(out, '_')

	list := make([]byte, 0, 5*max(len(ciphers), len(exts)+len(h.SignatureAlgorithms)))
	list = appendHexList(list, ciphers)
	out = appendPart(out, list, raw, len(ciphers) == 0)
	out = append(out, '_')

	list = appendHexList(list[:0], exts)
	sigs := 0
	for _, s := range h.SignatureAlgorithms {
		if !IsGREASE(s) {
			sigs++
		}
	}
	if sigs > 0 {
		list = append(list, '_')
		first := true
		for _, s := range h.SignatureAlgorithms {
			if IsGREASE(s) {
				continue
			}
			if !first {
				list = append(list, ',')
			}
			first = false
			list = appendHex16(list, s)
		}
	}
	out = appendPart(out, list, raw, len(exts) == 0)
	return string(out)
}

// appendPart appends list as it is (raw) or as its truncated hash; an
// empty list hashes to twelve zeros, as the specification says.
func appendPart(out, list []byte, raw, empty bool) []byte {
	if raw {
		return append(out, list...)
	}
	if empty {
		return append(out, "000000000000"...)
	}
	sum := sha256.Sum256(list)
	return hex.AppendEncode(out, sum[:6])
}

// versionCode is the highest version of supported_versions (GREASE
// ignored), or the hello's own version without that extension.
func (h *Hello) versionCode() string {
	v := h.LegacyVersion
	if len(h.SupportedVersions) > 0 {
		v = 0
		for _, s := range h.SupportedVersions {
			if !IsGREASE(s) && s > v {
				v = s
			}
		}
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0200:
		return "s2"
	case 0x0100:
		return "s1"
	}
	return "00"
}

// appendALPN appends the first and last characters of the first ALPN
// protocol, "00" without one. Where either is not an ASCII letter or
// digit, the first hex digit of the first byte and the last hex digit of
// the last byte stand for them, as later revisions of the specification
// say.
func (h *Hello) appendALPN(out []byte) []byte {
	if len(h.ALPN) == 0 || h.ALPN[0] == "" {
		return append(out, "00"...)
	}
	p := h.ALPN[0]
	first, last := p[0], p[len(p)-1]
	if alnum(first) && alnum(last) {
		return append(out, first, last)
	}
	const digits = "0123456789abcdef"
	return append(out, digits[first>>4], digits[last&0xf])
}

func alnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// appendCount appends n as two decimal digits, 99 at most.
func appendCount(out []byte, n int) []byte {
	n = min(n, 99)
	return append(out, byte('0'+n/10), byte('0'+n%10))
}

func appendHexList(out []byte, vs []uint16) []byte {
	for i, v := range vs {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendHex16(out, v)
	}
	return out
}

func appendHex16(out []byte, v uint16) []byte {
	return hex.AppendEncode(out, []byte{byte(v >> 8), byte(v)})
}

// IsGREASE reports whether v is one of the reserved GREASE values of RFC
// 8701 (0x0a0a, 0x1a1a, ... 0xfafa), which clients send to keep servers
// tolerant and which say nothing about the client.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}
