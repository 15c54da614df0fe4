//go:build !unix

package certs

import "io/fs"

// keyFilesGuarded is false where modes and owners are not Unix ones.
const keyFilesGuarded = false

// fileOwner reports no owner where files have no uid.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
