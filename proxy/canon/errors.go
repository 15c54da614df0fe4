package canon

import "errors"

// The reasons a path is refused. Each is a client error (400): the
// request is ambiguous or malformed, never a proxy fault.
var (
	ErrNotAbsolute   = errors.New("path does not start with /")
	ErrAboveRoot     = errors.New("path climbs above the root with dot-segments")
	ErrEncodedSlash  = errors.New("path has an encoded slash (%2F)")
	ErrBackslash     = errors.New(`path has a backslash (\ or %5C)`)
	ErrNUL           = errors.New("path has an encoded NUL (%00)")
	ErrDoubleSlash   = errors.New("path has an empty segment (//)")
	ErrInvalidEscape = errors.New("path has a % not followed by two hex digits")
	ErrInvalidUTF8   = errors.New("path escapes decode to invalid UTF-8")
	ErrInvalidByte   = errors.New("path has a control or non-ASCII byte")
)
