package certs

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watching runs Watch on names with a short interval and returns the
// channel its changes arrive on and a count of its looks.
func watching(t *testing.T, names func() []string) (<-chan []string, *atomic.Int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []string, 16)
	var looks atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, func() (time.Duration, bool) { return 5 * time.Millisecond, true },
			func() []string { looks.Add(1); return names() },
			func(n []string) { got <- n })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return got, &looks
}

// waitLooks waits until the watcher has looked n more times.
func waitLooks(t *testing.T, looks *atomic.Int64, n int64) {
	t.Helper()
	want := looks.Load() + n
	require.Eventually(t, func() bool { return looks.Load() >= want }, 10*time.Second, time.Millisecond)
}

func next(t *testing.T, got <-chan []string) []string {
	t.Helper()
	select {
	case n := <-got:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
		return nil
	}
}

func write(t *testing.T, name, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(name, []byte(text), 0o600))
}

func TestWatchSeesEveryKindOfChange(t *testing.T) {
	dir := t.TempDir()
	inPlace := filepath.Join(dir, "in-place.pem")
	renamed := filepath.Join(dir, "renamed.pem")
	write(t, inPlace, "one")
	write(t, renamed, "one")
	// A Kubernetes secret volume: the files are links into ..data, itself
	// a link to a timestamped directory that an update replaces whole.
	for _, v := range []string{"v1", "v2"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o700))
		write(t, filepath.Join(dir, v, "tls.crt"), "cert "+v)
	}
	require.NoError(t, os.Symlink("v1", filepath.Join(dir, "..data")))
	secret := filepath.Join(dir, "tls.crt")
	require.NoError(t, os.Symlink(filepath.Join("..data", "tls.crt"), secret))

	got, looks := watching(t, func() []string { return []string{inPlace, renamed, secret} })
	waitLooks(t, looks, 3)
	select {
	case n := <-got:
		t.Fatalf("nothing changed, yet %v was reported", n)
	default:
	}

	write(t, inPlace, "two, longer")
	assert.Equal(t, []string{inPlace}, next(t, got), "written in place")

	tmp := filepath.Join(dir, ".renamed.pem.swp")
	write(t, tmp, "two")
	require.NoError(t, os.Rename(tmp, renamed))
	assert.Equal(t, []string{renamed}, next(t, got), "an editor's write and rename")

	require.NoError(t, os.Symlink("v2", filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	assert.Equal(t, []string{secret}, next(t, got), "a secret volume's link swap")

	require.NoError(t, os.Remove(inPlace))
	assert.Equal(t, []string{inPlace}, next(t, got), "a file that went away")
}

func TestWatchTakesNewNamesAsTheyAre(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, "a")
	write(t, b, "b")
	var both atomic.Bool
	got, looks := watching(t, func() []string {
		if both.Load() {
			return []string{a, b}
		}
		return []string{a}
	})
	waitLooks(t, looks, 2)
	both.Store(true) // as after a config reload that names one more file
	waitLooks(t, looks, 3)
	write(t, a, "a changed")
	assert.Equal(t, []string{a}, next(t, got), "b, newly named, was not a change")
}
