package h1

// Field is one field line. For a parsed message, Name and Value are slices
// into the Reader's buffer: Name keeps the case it was received in, Value has
// no leading or trailing whitespace. Both stay valid until the next
// ReadRequest/ReadResponse (or Reset) on the Reader that produced them.
type Field struct {
	Name, Value []byte
}

// Header is an ordered list of fields, kept as received (order, case and
// repetition preserved) so that the proxy forwards what it was given.
// Names compare case-insensitively (ASCII only, as field names are tokens).
//
// The zero value is empty and ready. A Header is meant to be reused: Reset
// keeps the storage of Fields and of the small arena Add and Set copy
// strings into, so a warmed-up Header allocates nothing.
type Header struct {
	Fields []Field

	// arena holds the bytes of fields added from strings. When it grows,
	// earlier fields keep pointing into the previous array, which stays
	// alive through them, so growth never invalidates a field.
	arena []byte
}

// Reset empties h, keeping its storage.
func (h *Header) Reset() {
	clear(h.Fields)
	h.Fields = h.Fields[:0]
	h.arena = h.arena[:0]
}

// Len is the number of fields.
func (h *Header) Len() int { return len(h.Fields) }

// Get returns the value of the first field called name, or nil.
func (h *Header) Get(name string) []byte {
	for i := range h.Fields {
		if equalFoldString(h.Fields[i].Name, name) {
			return h.Fields[i].Value
		}
	}
	return nil
}

// Has reports whether a field called name is present.
func (h *Header) Has(name string) bool {
	for i := range h.Fields {
		if equalFoldString(h.Fields[i].Name, name) {
			return true
		}
	}
	return false
}

// Count returns how many fields are called name.
func (h *Header) Count(name string) int {
	n := 0
	for i := range h.Fields {
		if equalFoldString(h.Fields[i].Name, name) {
			n++
		}
	}
	return n
}

// Del removes every field called name, keeping the order of the others.
func (h *Header) Del(name string) {
	h.filter(func(f *Field) bool { return !equalFoldString(f.Name, name) })
}

// Add appends a field, copying name and value into h's arena. It does not
// validate them: AppendRequestHead and AppendResponseHead refuse a head whose
// fields could split it, so validation happens once, where it matters.
func (h *Header) Add(name, value string) {
	start := len(h.arena)
	h.arena = append(h.arena, name...)
	h.arena = append(h.arena, value...)
	mid := start + len(name)
	end := len(h.arena)
	h.Fields = append(h.Fields, Field{
		Name:  h.arena[start:mid:mid],
		Value: h.arena[mid:end:end],
	})
}

// AddBytes appends a field that uses name and value as they are, without
// copying: the caller keeps them unchanged for as long as h uses them.
func (h *Header) AddBytes(name, value []byte) {
	h.Fields = append(h.Fields, Field{Name: name, Value: value})
}

// Set replaces the first field called name with value (copied), deletes any
// later ones, and appends the field if there was none.
func (h *Header) Set(name, value string) {
	first := -1
	for i := range h.Fields {
		if equalFoldString(h.Fields[i].Name, name) {
			first = i
			break
		}
	}
	if first < 0 {
		h.Add(name, value)
		return
	}
	start := len(h.arena)
	h.arena = append(h.arena, value...)
	end := len(h.arena)
	h.Fields[first].Value = h.arena[start:end:end]
	kept := h.Fields[:first+1]
	for _, f := range h.Fields[first+1:] {
		if !equalFoldString(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear(h.Fields[len(kept):])
	h.Fields = kept
}

// filter keeps the fields for which keep returns true, in order.
func (h *Header) filter(keep func(*Field) bool) {
	kept := h.Fields[:0]
	for i := range h.Fields {
		if keep(&h.Fields[i]) {
			kept = append(kept, h.Fields[i])
		}
	}
	clear(h.Fields[len(kept):])
	h.Fields = kept
}

// hopByHop are the fields a proxy must not forward (RFC 9110 §7.6.1, plus
// the non-standard Keep-Alive and Proxy-Connection that old clients send).
var hopByHop = [...]string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"TE",
	"Transfer-Encoding",
	"Upgrade",
	"Trailer",
	"Proxy-Authenticate",
	"Proxy-Authorization",
}

// RemoveHopByHop deletes the hop-by-hop fields of h: the fixed list of RFC
// 9110 §7.6.1 and every field named in a Connection field's options.
//
// Host and Content-Length are never removed, even when Connection names
// them: a client listing Host would make the proxy forward a request without
// a target authority, one listing Content-Length would strip the framing of
// a body the proxy still forwards, and the upstream would read the next
// request out of it. Transfer-Encoding is always removed (it is
// hop-by-hop): a caller forwarding a chunked body adds its own. Callers that
// need Upgrade for a tunnel read it first, and add their own fields
// (X-Forwarded-For...) after this call so a client cannot have them removed.
func RemoveHopByHop(h *Header) {
	// Mark first, while every Connection field is still in place, then
	// compact: deleting as we go would let a moved Connection field be
	// missed.
	for i := range h.Fields {
		f := &h.Fields[i]
		if isHopByHopName(f.Name) || equalFoldString(f.Name, "Host") || equalFoldString(f.Name, "Content-Length") {
			continue
		}
		if connectionListsName(h, f.Name) {
			f.Name = nil
		}
	}
	h.filter(func(f *Field) bool { return f.Name != nil && !isHopByHopName(f.Name) })
}

func isHopByHopName(name []byte) bool {
	for _, hb := range hopByHop {
		if equalFoldString(name, hb) {
			return true
		}
	}
	return false
}

// connectionListsName reports whether any Connection field has name among
// its comma-separated options.
func connectionListsName(h *Header, name []byte) bool {
	for i := range h.Fields {
		f := &h.Fields[i]
		if f.Name == nil || !equalFoldString(f.Name, "Connection") {
			continue
		}
		found := false
		forEachListElement(f.Value, func(tok []byte) bool {
			if equalFold(tok, name) {
				found = true
				return false
			}
			return true
		})
		if found {
			return true
		}
	}
	return false
}

// forEachListElement calls fn on each non-empty, whitespace-trimmed element
// of a comma-separated list (RFC 9110 §5.6.1) until fn returns false.
func forEachListElement(v []byte, fn func([]byte) bool) {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		elem := trimOWS(v[:i])
		if len(elem) > 0 && !fn(elem) {
			return
		}
		if i == len(v) {
			return
		}
		v = v[i+1:]
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFoldString compares ASCII case-insensitively without allocating.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}
