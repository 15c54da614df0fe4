package certs

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces name with data: written to a temporary file in
// the same directory, given perm, synced, then renamed over name, so a
// reader (or a watcher, or a crash) sees the old content or the new one,
// never part of either.
func WriteFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return nil
}
