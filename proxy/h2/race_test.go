//go:build race

package h2

// raceEnabled: under the race detector sync.Pool drops a share of what is
// put back, so pooled objects are allocated again now and then.
const raceEnabled = true
