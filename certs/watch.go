package certs

import (
	"context"
	"os"
	"slices"
	"time"
)

// Watch looks at the files that files names, every interval, until ctx
// ends, and calls changed with the ones that differ from the previous look.
//
// It polls rather than asking the kernel for events: a poll sees every way
// a file comes to change — written in place, an editor's write-and-rename,
// a Kubernetes secret's swap of the symbolic link its files are reached
// through, a directory mounted over — without a watch per directory to
// keep up, and a few stat calls a second cost nothing. A file is compared
// by what stat says of the file at the end of its links (which file it is,
// its size and modification time); its content is never read here.
//
// changed is called only once the changed files have stayed the same for
// one more interval, so a file still being written is not read half-done;
// a change it then refuses (the reload fails) is looked at again at the
// next change. The list files returns may differ between calls: a name
// seen for the first time is taken as it is, not as a change, since
// whoever named it has just read it. interval returns the current
// interval and whether to watch at all, so a config reload can change
// both.
func Watch(ctx context.Context, interval func() (time.Duration, bool), files func() []string, changed func(names []string)) {
	seen := map[string]stamp{}
	pending := map[string]bool{} // changed since changed was last called
	look := func() {
		names := files()
		now := make(map[string]stamp, len(names))
		moving := false
		for _, n := range names {
			st := stampOf(n)
			now[n] = st
			if old, known := seen[n]; known && !old.same(st) {
				pending[n] = true
				moving = true
			}
		}
		for n := range pending {
			if _, named := now[n]; !named {
				delete(pending, n)
			}
		}
		seen = now
		// Wait while anything is still moving, so files written one
		// after another (a certificate, then its key) reload once, whole.
		if moving || len(pending) == 0 {
			return
		}
		settled := make([]string, 0, len(pending))
		for n := range pending {
			settled = append(settled, n)
		}
		slices.Sort(settled)
		clear(pending)
		changed(settled)
	}
	look()
	for {
		d, on := interval()
		if d <= 0 {
			d = time.Second
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if on {
			look()
		}
	}
}

// stamp is what stat says of a file, enough to tell it changed.
type stamp struct {
	info os.FileInfo // nil: stat failed (the file is missing, for now)
}

func stampOf(name string) stamp {
	fi, err := os.Stat(name)
	if err != nil {
		return stamp{}
	}
	return stamp{info: fi}
}

func (s stamp) same(o stamp) bool {
	if s.info == nil || o.info == nil {
		return s.info == nil && o.info == nil
	}
	return os.SameFile(s.info, o.info) && s.info.Size() == o.info.Size() &&
		s.info.ModTime().Equal(o.info.ModTime()) && s.info.Mode() == o.info.Mode()
}
