//go:build race

package schema_test

// raceEnabled says the race detector is on: it allocates on its own, so
// allocation counts are not checked.
const raceEnabled = true
