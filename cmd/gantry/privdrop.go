package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/gantry-proxy/gantry/internal/config"
)

// dropPrivileges switches to id once the listeners are bound, so the proxy
// can bind port 443 as root yet never parse a request as root. Since Go
// 1.16 these calls apply to every thread of the process. Supplementary
// groups go first and the uid last: after setuid there is no permission
// left to change the others.
func dropPrivileges(id config.Identity) error {
	if !id.Set() {
		return nil
	}
	// A process started by an upgrade inherits the identity its parent
	// dropped to, and can no longer call setgroups.
	if id.UID > 0 && os.Getuid() == id.UID && (id.GID < 0 || os.Getgid() == id.GID) {
		return nil
	}
	if id.GID >= 0 {
		if err := syscall.Setgroups([]int{id.GID}); err != nil {
			return fmt.Errorf("drop privileges: setgroups(%d): %w", id.GID, err)
		}
		if err := syscall.Setgid(id.GID); err != nil {
			return fmt.Errorf("drop privileges: setgid(%d): %w", id.GID, err)
		}
	}
	if id.UID >= 0 {
		if err := syscall.Setuid(id.UID); err != nil {
			return fmt.Errorf("drop privileges: setuid(%d): %w", id.UID, err)
		}
		// A process that could switch back would make the drop pointless.
		if id.UID != 0 && syscall.Setuid(0) == nil {
			return fmt.Errorf("drop privileges: still able to regain root after setuid(%d)", id.UID)
		}
	}
	if id.UID >= 0 && os.Getuid() != id.UID {
		return fmt.Errorf("drop privileges: uid is %d after setuid(%d)", os.Getuid(), id.UID)
	}
	return nil
}
