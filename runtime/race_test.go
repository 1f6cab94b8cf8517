//go:build race

package runtime_test

// raceEnabled says the race detector is on: it allocates on its own, so
// allocation budgets are not checked.
const raceEnabled = true
