//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

import (
	"encoding/binary"
	"errors"
)

// The shim passes certificate chains across the fence as one buffer: each
// DER certificate preceded by its length as 4 bytes, big-endian. One buffer
// means one allocation and one copy instead of a C array of C pointers.

func encodeChain(ders [][]byte) []byte {
	n := 0
	for _, d := range ders {
		n += 4 + len(d)
	}
	out := make([]byte, 0, n)
	for _, d := range ders {
		out = binary.BigEndian.AppendUint32(out, uint32(len(d)))
		out = append(out, d...)
	}
	return out
}

var errTruncatedChain = errors.New("truncated certificate chain")

// decodeChain splits b without copying; the caller owns b.
func decodeChain(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errTruncatedChain
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, errTruncatedChain
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out, nil
}
