package sslconn

import "encoding/binary"

// splitSCTList unpacks a SignedCertificateTimestampList (RFC 6962, 3.3):
// a 16-bit length, then 16-bit length-prefixed SCTs. A malformed list
// yields nil rather than part of it.
func splitSCTList(b []byte) [][]byte {
	if len(b) < 2 || int(binary.BigEndian.Uint16(b)) != len(b)-2 {
		return nil
	}
	var out [][]byte
	for b = b[2:]; len(b) > 0; {
		if len(b) < 2 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 || len(b)-2 < n {
			return nil
		}
		out = append(out, b[2:2+n:2+n])
		b = b[2+n:]
	}
	return out
}
