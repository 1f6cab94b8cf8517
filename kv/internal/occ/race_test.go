//go:build race

package occ

// raceEnabled says the race detector is on: it allocates on its own, so
// allocation counts are not checked.
const raceEnabled = true
