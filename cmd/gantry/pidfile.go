package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pidFile is server.pid_file as this process wrote it. It follows the
// serving process: an upgraded process replaces it (atomically, by
// rename) once it serves, and a process removes it on exit only while it
// still holds its own pid, so the old process of an upgrade never deletes
// its successor's.
type pidFile struct {
	path string
	pid  int
}

func writePIDFile(path string) (*pidFile, error) {
	pid := os.Getpid()
	tmp := fmt.Sprintf("%s.%d.tmp", path, pid)
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil { // #nosec G306 -- pid files are world-readable by convention (systemd, logrotate, kill)
		return nil, fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return &pidFile{path: path, pid: pid}, nil
}

func (p *pidFile) remove() {
	if readPID(p.path) == p.pid {
		_ = os.Remove(p.path)
	}
}

// readPID is the pid in a pid file, or 0.
func readPID(path string) int {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}
