package main

import "strings"

// semverLess reports whether a < b as semantic versions, with or without a
// leading "v". Like golang.org/x/mod/semver, an invalid version sorts before
// every valid one, which is what makes latestFix's "" start work.
func semverLess(a, b string) bool {
	return semverCompare(a, b) < 0
}

type semver struct {
	nums [3]string
	pre  []string
}

func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v semver
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = strings.Split(s[i+1:], ".")
		s = s[:i]
		for _, p := range v.pre {
			if p == "" {
				return semver{}, false
			}
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	for i, p := range parts {
		if !isNum(p) || (len(p) > 1 && p[0] == '0') {
			return semver{}, false
		}
		v.nums[i] = p
	}
	return v, true
}

func semverCompare(a, b string) int {
	va, okA := parseSemver(a)
	vb, okB := parseSemver(b)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return -1
	case !okB:
		return 1
	}
	for i := range va.nums {
		if c := compareNum(va.nums[i], vb.nums[i]); c != 0 {
			return c
		}
	}
	// A release sorts after all of its pre-releases.
	switch {
	case len(va.pre) == 0 && len(vb.pre) == 0:
		return 0
	case len(va.pre) == 0:
		return 1
	case len(vb.pre) == 0:
		return -1
	}
	for i := 0; i < len(va.pre) && i < len(vb.pre); i++ {
		x, y := va.pre[i], vb.pre[i]
		nx, ny := isNum(x), isNum(y)
		var c int
		switch {
		case nx && ny:
			c = compareNum(x, y)
		case nx:
			c = -1
		case ny:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return compareInt(len(va.pre), len(vb.pre))
}

func isNum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareNum compares decimal strings of any length without overflow.
func compareNum(x, y string) int {
	x = strings.TrimLeft(x, "0")
	y = strings.TrimLeft(y, "0")
	if c := compareInt(len(x), len(y)); c != 0 {
		return c
	}
	return strings.Compare(x, y)
}

func compareInt(x, y int) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
