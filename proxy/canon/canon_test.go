package canon

import (
	"errors"
	"testing"
)

func TestPathDefaultPolicy(t *testing.T) {
	var pol Policy
	tests := []struct {
		in, want string
		err      error
	}{
		{"/", "/", nil},
		{"/admin/x", "/admin/x", nil},
		{"/admin/", "/admin/", nil},
		{"/a/./b", "/a/b", nil},
		{"/a/../b", "/b", nil},
		{"/a/b/..", "/a/", nil},
		{"/a/b/.", "/a/b/", nil},
		{"/a/..", "/", nil},
		{"/..", "", ErrAboveRoot},
		{"/a/../..", "", ErrAboveRoot},
		{"/%2e%2e/x", "", ErrAboveRoot},
		{"/public/%2e%2e/admin", "/admin", nil},
		{"/public/%2E%2E/admin", "/admin", nil},
		{"/public/.%2e/admin", "/admin", nil},
		{"/public/%2e./admin", "/admin", nil},
		{"/%2e/admin", "/admin", nil},
		{"/%61dmin/", "/admin/", nil},
		{"/%41dmin", "/Admin", nil},
		{"/%7euser", "/~user", nil},
		{"/a%3fb", "/a%3Fb", nil},
		{"/a%3Fb", "/a%3Fb", nil},
		{"/a%20b", "/a%20b", nil},
		{"/a|b", "/a%7Cb", nil},
		{"/a%2Fb", "", ErrEncodedSlash},
		{"/a%2fb", "", ErrEncodedSlash},
		{`/a\b`, "", ErrBackslash},
		{"/a%5Cb", "", ErrBackslash},
		{"/a%00b", "", ErrNUL},
		{"//admin", "/admin", nil},
		{"/a//b//", "/a/b/", nil},
		{"/a%zz", "", ErrInvalidEscape},
		{"/a%4", "", ErrInvalidEscape},
		{"/a%", "", ErrInvalidEscape},
		{"/%C0%AF", "", ErrInvalidUTF8},
		{"/%E2%82", "", ErrInvalidUTF8},
		{"/%e2%82%ac", "/%E2%82%AC", nil},
		{"/%ED%A0%80", "", ErrInvalidUTF8},
		{"/a\x01", "", ErrInvalidByte},
		{"/caf\xc3\xa9", "", ErrInvalidByte},
		{"a", "", ErrNotAbsolute},
		{"", "", ErrNotAbsolute},
		{"/a;b=c:d@e!$&'()*+,", "/a;b=c:d@e!$&'()*+,", nil},
		{"/...", "/...", nil},
		{"/.a/b.", "/.a/b.", nil},
	}
	for _, tt := range tests {
		got, err := Path(tt.in, &pol)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Path(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestPathNormalisingPolicy(t *testing.T) {
	pol := Policy{EncodedSlash: SlashDecode, Backslash: BackslashSlash, InvalidEscape: EscapeEncode, InvalidUTF8: UTF8Keep}
	tests := []struct{ in, want string }{
		{"/a%2Fb", "/a/b"},
		{"/public%2F..%2Fadmin", "/admin"},
		{`/public\..\admin`, "/admin"},
		{"/public%5c..%5cadmin", "/admin"},
		{"/a%zz", "/a%25zz"},
		{"/a%", "/a%25"},
		{"/%c0%af", "/%C0%AF"},
	}
	for _, tt := range tests {
		got, err := Path(tt.in, &pol)
		if err != nil || got != tt.want {
			t.Errorf("Path(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	keep := Policy{EncodedSlash: SlashKeep}
	if got, err := Path("/a%2fb/../c", &keep); err != nil || got != "/c" {
		t.Errorf("keep: got %q, %v; want /c (the %%2F is data inside the segment)", got, err)
	}
	if got, err := Path("/a%2fb", &keep); err != nil || got != "/a%2Fb" {
		t.Errorf("keep: got %q, %v", got, err)
	}
	strict := Policy{DoubleSlash: DoubleSlashReject}
	if _, err := Path("/a//b", &strict); !errors.Is(err, ErrDoubleSlash) {
		t.Errorf("double slash reject: %v", err)
	}
}

func TestTargetKeepsQuery(t *testing.T) {
	var pol Policy
	tests := []struct{ in, want string }{
		{"/a?x=%2F&y=../..", "/a?x=%2F&y=../.."},
		{"/%61/./b?q=%7e", "/a/b?q=%7e"},
		{"/a?", "/a?"},
	}
	for _, tt := range tests {
		got, err := Target(tt.in, &pol)
		if err != nil || got != tt.want {
			t.Errorf("Target(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestCanonicalPathDoesNotAllocate: the common case, a path already in
// canonical form, costs a scan and nothing else.
func TestCanonicalPathDoesNotAllocate(t *testing.T) {
	var pol Policy
	for _, p := range []string{"/", "/api/v1/users/42", "/static/app.js?v=3", "/a%3Fb"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Target(p, &pol); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Target(%q): %v allocations, want 0", p, allocs)
		}
	}
}

func TestPolicyText(t *testing.T) {
	var a SlashAction
	if err := a.UnmarshalText([]byte("decode")); err != nil || a != SlashDecode {
		t.Fatalf("decode: %v %v", a, err)
	}
	if err := a.UnmarshalText([]byte("Decode")); err == nil {
		t.Fatal("want an error for an unknown name")
	}
	if SlashKeep.String() != "keep" || DoubleSlashMerge.String() != "merge" {
		t.Fatal("names")
	}
	bad := Policy{EncodedSlash: 9}
	if bad.Validate() == nil {
		t.Fatal("want an error for an out-of-range action")
	}
}
