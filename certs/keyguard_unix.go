//go:build unix

package certs

import (
	"io/fs"
	"syscall"
)

// keyFilesGuarded: file modes and owners mean something here.
const keyFilesGuarded = true

// fileOwner returns the uid that owns the file st describes.
func fileOwner(st fs.FileInfo) (int, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(s.Uid), true
}
