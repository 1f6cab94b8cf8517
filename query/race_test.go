//go:build race

package query_test

// raceEnabled says the race detector is on: it allocates on its own, and
// sync.Pool drops items at random, so allocation budgets are not checked.
const raceEnabled = true
