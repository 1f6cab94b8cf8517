//go:build race

package runtime_test

// raceEnabled: the race detector is on, which changes allocation counts
// (sync.Pool drops items at random, the detector allocates).
const raceEnabled = true
