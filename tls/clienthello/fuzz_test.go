package clienthello

import (
	"bytes"
	"testing"
)

// FuzzRead feeds Read arbitrary streams. Whatever it accepts must hold
// together: raw is a prefix of the input within the bounds, the hello
// re-serialises to the very message the records carried, and its JA4 has
// the specification's form.
func FuzzRead(f *testing.F) {
	f.Add(records(specHello(f), maxFragmentLen))
	f.Add(records(specHello(f), 7))
	f.Add([]byte{recordTypeHandsh, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 4096
		h, raw, err := Read(bytes.NewReader(in), limit)
		if !bytes.HasPrefix(in, raw) {
			t.Fatalf("raw is not what was read")
		}
		if err != nil {
			return
		}
		// Rebuild the handshake message from the records read.
		var msg []byte
		records := 0
		for rest := raw; len(rest) > 0; records++ {
			n := int(rest[3])<<8 | int(rest[4])
			msg = append(msg, rest[5:5+n]...)
			rest = rest[5+n:]
		}
		if len(msg) > limit || records != 1 {
			t.Fatalf("accepted %d bytes in %d records under a %d limit", len(msg), records, limit)
		}
		again, err := h.Marshal()
		if err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-serialised hello differs (%v)", err)
		}
		if ja4 := h.JA4(); !ja4Form.MatchString(ja4) {
			t.Fatalf("JA4 %q not of the specification's form", ja4)
		}
		if len(h.ServerName) > 0 && !printable([]byte(h.ServerName)) {
			t.Fatalf("server name %q not printable", h.ServerName)
		}
	})
}
