package certs

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// KeyGuard says who may own a private key file (a certificate's key, a
// client key, a session ticket key, an ECH key) and what to do with one that others
// could read. It is not configured by YAML: the config package fills it in
// from server.key_permissions and the identity Gantry serves as.
//
// A key file passes when its permission bits give group and others
// nothing (mode 0600 or 0400) and it is owned by root, by the effective
// uid or by one of Owners. Symbolic links are followed: the file read is
// the one checked. The zero KeyGuard refuses every other key file.
type KeyGuard struct {
	// Owners are uids allowed to own key files besides root and the
	// effective uid: the server.user a root-started process drops to.
	Owners []int
	// Warn accepts a key file that fails the check, and reports it in the
	// loaded set's Warnings instead of refusing it.
	Warn bool
}

// owners lists the acceptable owners, sorted and without duplicates.
func (g KeyGuard) owners() []int {
	out := append([]int{0, os.Geteuid()}, g.Owners...)
	slices.Sort(out)
	return slices.Compact(out)
}

// check looks at the file name before it is read. It returns nil for a
// guarded key, and otherwise the problem, phrased as an error to refuse
// with or, in warn mode, as a warning. A file that cannot be looked at is
// left to the read, whose error says what is wrong. The error names the
// file, never what it holds.
func (g KeyGuard) check(name string) error {
	if !keyFilesGuarded {
		return nil
	}
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	var problems, fixes []string
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		what := "readable"
		if perm&0o044 == 0 {
			what = "writable or executable"
		}
		problems = append(problems, fmt.Sprintf("is %s by group or others (mode %04o)", what, perm))
		fixes = append(fixes, "chmod 600 it")
	}
	if uid, ok := fileOwner(st); ok {
		owners := g.owners()
		if !slices.Contains(owners, uid) {
			ids := make([]string, len(owners))
			for i, o := range owners {
				ids[i] = strconv.Itoa(o)
			}
			problems = append(problems, fmt.Sprintf("is owned by uid %d, not by root or the user Gantry runs as (uid %s)", uid, strings.Join(ids, " or ")))
			fixes = append(fixes, "chown it")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	msg := "key file " + name + " " + strings.Join(problems, " and ")
	if g.Warn {
		return fmt.Errorf("%s; accepted because server.key_permissions is warn", msg)
	}
	return fmt.Errorf("%s: %s, or set server.key_permissions: warn", msg, strings.Join(fixes, " and "))
}

// guard checks the key file name at field before it is read: a refusal
// goes to errs, a warning to warns. It reports whether the file may be
// read.
func (g KeyGuard) guard(errs, warns *fieldErrors, field, name string) bool {
	err := g.check(name)
	switch {
	case err == nil:
		return true
	case g.Warn:
		warns.add(field, err)
		return true
	default:
		errs.add(field, err)
		return false
	}
}
