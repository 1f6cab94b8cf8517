//go:build race

package kvtest

// raceEnabled shortens the random sequence under the race detector, which
// slows single-goroutine engine code (and Pebble's invariant checks, which
// -race turns on) by an order of magnitude without finding more in it; the
// concurrency tests run in full.
const raceEnabled = true
