package canon

import "fmt"

// Policy says how each ambiguous spelling is treated. The zero Policy is
// the default: everything refused except doubled slashes, which are
// merged.
type Policy struct {
	// EncodedSlash (encoded_slash) is "%2F". Origins disagree: most decode
	// it before routing (so "/a%2F..%2Fadmin" is "/admin" to them), some
	// keep it as data inside a segment.
	EncodedSlash SlashAction `yaml:"encoded_slash"`
	// Backslash (backslash) is a raw "\" or "%5C": Windows servers, IIS and
	// several frameworks read it as "/", others as data.
	Backslash BackslashAction `yaml:"backslash"`
	// DoubleSlash (double_slash) is an empty segment ("//"): path.Clean
	// and most routers collapse it, a few origins keep it.
	DoubleSlash DoubleSlashAction `yaml:"double_slash"`
	// InvalidEscape (invalid_escape) is a "%" not followed by two hex
	// digits: origins reject it, keep it, or decode half of it.
	InvalidEscape EscapeAction `yaml:"invalid_escape"`
	// InvalidUTF8 (invalid_utf8) is a run of escapes that decodes to
	// invalid UTF-8, overlong forms ("%C0%AF" for "/") included.
	InvalidUTF8 UTF8Action `yaml:"invalid_utf8"`
}

// SlashAction is the treatment of "%2F".
type SlashAction uint8

const (
	// SlashReject refuses the request (the default).
	SlashReject SlashAction = iota
	// SlashDecode turns it into "/", which then separates segments (and
	// takes part in dot-segment removal and slash merging).
	SlashDecode
	// SlashKeep forwards it encoded, as data inside a segment. Only safe
	// when every origin behind the listener keeps it too.
	SlashKeep
)

// BackslashAction is the treatment of "\" and "%5C".
type BackslashAction uint8

const (
	// BackslashReject refuses the request (the default).
	BackslashReject BackslashAction = iota
	// BackslashSlash reads it as "/", as Windows origins do.
	BackslashSlash
)

// DoubleSlashAction is the treatment of empty segments.
type DoubleSlashAction uint8

const (
	// DoubleSlashMerge collapses them into one "/" (the default).
	DoubleSlashMerge DoubleSlashAction = iota
	// DoubleSlashReject refuses the request.
	DoubleSlashReject
)

// EscapeAction is the treatment of a "%" that starts no valid escape.
type EscapeAction uint8

const (
	// EscapeReject refuses the request (the default).
	EscapeReject EscapeAction = iota
	// EscapeEncode encodes the "%" itself ("%zz" becomes "%25zz").
	EscapeEncode
)

// UTF8Action is the treatment of escapes that decode to invalid UTF-8.
type UTF8Action uint8

const (
	// UTF8Reject refuses the request (the default).
	UTF8Reject UTF8Action = iota
	// UTF8Keep forwards the escapes as they are (hex upper-cased).
	UTF8Keep
)

var (
	slashNames       = []string{"reject", "decode", "keep"}
	backslashNames   = []string{"reject", "slash"}
	doubleSlashNames = []string{"merge", "reject"}
	escapeNames      = []string{"reject", "encode"}
	utf8Names        = []string{"reject", "keep"}
)

func (a SlashAction) String() string       { return nameOf(slashNames, uint8(a)) }
func (a BackslashAction) String() string   { return nameOf(backslashNames, uint8(a)) }
func (a DoubleSlashAction) String() string { return nameOf(doubleSlashNames, uint8(a)) }
func (a EscapeAction) String() string      { return nameOf(escapeNames, uint8(a)) }
func (a UTF8Action) String() string        { return nameOf(utf8Names, uint8(a)) }

// UnmarshalText reads the action's name, so a config key takes it.
func (a *SlashAction) UnmarshalText(b []byte) error { return parseName(slashNames, b, (*uint8)(a)) }

// UnmarshalText reads the action's name, so a config key takes it.
func (a *BackslashAction) UnmarshalText(b []byte) error {
	return parseName(backslashNames, b, (*uint8)(a))
}

// UnmarshalText reads the action's name, so a config key takes it.
func (a *DoubleSlashAction) UnmarshalText(b []byte) error {
	return parseName(doubleSlashNames, b, (*uint8)(a))
}

// UnmarshalText reads the action's name, so a config key takes it.
func (a *EscapeAction) UnmarshalText(b []byte) error { return parseName(escapeNames, b, (*uint8)(a)) }

// UnmarshalText reads the action's name, so a config key takes it.
func (a *UTF8Action) UnmarshalText(b []byte) error { return parseName(utf8Names, b, (*uint8)(a)) }

func nameOf(names []string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("action(%d)", v)
}

func parseName(names []string, b []byte, dst *uint8) error {
	for i, n := range names {
		if string(b) == n {
			*dst = uint8(i)
			return nil
		}
	}
	return fmt.Errorf("unknown action %q (want one of %v)", b, names)
}

// Validate reports an action outside its range, which only a Go caller
// setting numbers by hand can produce.
func (p *Policy) Validate() error {
	switch {
	case p.EncodedSlash > SlashKeep:
		return fmt.Errorf("canon: encoded_slash: %v", p.EncodedSlash)
	case p.Backslash > BackslashSlash:
		return fmt.Errorf("canon: backslash: %v", p.Backslash)
	case p.DoubleSlash > DoubleSlashReject:
		return fmt.Errorf("canon: double_slash: %v", p.DoubleSlash)
	case p.InvalidEscape > EscapeEncode:
		return fmt.Errorf("canon: invalid_escape: %v", p.InvalidEscape)
	case p.InvalidUTF8 > UTF8Keep:
		return fmt.Errorf("canon: invalid_utf8: %v", p.InvalidUTF8)
	}
	return nil
}
