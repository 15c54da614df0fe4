package main

import (
	"fmt"
	"os"
	"sync"
)

// reopenFile is the access log file: logrotate renames it and sends
// SIGUSR1, and Reopen starts a new file under the configured name, so no
// record is lost and none goes to the rotated file after the signal.
type reopenFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openReopenable(path string) (*reopenFile, error) {
	r := &reopenFile{path: path}
	if err := r.Reopen(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reopenFile) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(b)
}

// Reopen opens the path again (appending, created 0640) and closes the
// previous file; on failure the previous file stays in use.
func (r *reopenFile) Reopen() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640) // #nosec G302 -- group-readable for log shippers, as documented; records carry no bodies and redact credentials
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

func (r *reopenFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
