// Package kvtest is the conformance suite that every kv engine must pass.
//
// An engine's tests call [Run] with a function that opens a fresh, empty
// store. Run checks the contract of package kv piece by piece — point
// operations, iterators and their bounds and seeks, DeleteRange, batch
// atomicity, buffer ownership, read-your-writes in Update, snapshot isolation
// in View, lost updates under concurrency, serializability (write skew,
// phantoms of scans and of scans stopped early, DeleteRange against reads,
// torn reads), kv.KeyUpdater, kv.KeySetter, kv.KeyMerger and kv.PairNexter where implemented, Close — and then replays a seeded
// random sequence of batches, transactions, reads and iterations, comparing
// the store with a sorted-map model after every step (the model-based,
// metamorphic style of Pebble's own tests). Keys throughout contain 0x00 and
// 0xFF bytes and prefix pairs such as "a" / "a\x00".
//
// [RunBenchmarks] gives every engine the same benchmarks.
//
// For the tests of code that reads a store, [HookIters] wraps one to hand
// every iterator it opens to a hook (which may count, fail or wrap it),
// and [CloseFails], built on it, makes the iterators' Close fail.
//
// The random sequence is controlled by two flags that any test binary
// importing kvtest accepts:
//
//	-kvtest.seed N   seed of the random sequence (default 1; 0 picks one from the clock)
//	-kvtest.steps N  number of steps (default 3000; 1000 under -race, 500 with -short)
//
// kvtest imports only packages kv and kv/fieldpatch (whose merge
// operands its kv.KeyMerger checks build and apply; it imports only the
// standard library) and the standard library, so every engine, including
// out-of-module ones such as kv/tikvkv, can use it.
package kvtest

import (
	"errors"
	"flag"
	"testing"

	"github.com/protoql/protoql/kv"
)

var (
	seedFlag  = flag.Uint64("kvtest.seed", 1, "seed of kvtest's random operation sequence (0 picks one from the clock)")
	stepsFlag = flag.Int("kvtest.steps", 0, "steps of kvtest's random operation sequence (0: 3000; 1000 under -race, 500 with -short)")
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; it is called once per subtest, with that subtest's t,
// so it may use t.TempDir and t.Cleanup. The suite closes every store it
// opens and reports a Close error other than kv.ErrClosed. Subtests run in
// parallel, so open must be safe to call concurrently.
func Run(t *testing.T, open func(t *testing.T) kv.Store) {
	t.Helper()
	RunOptions(t, open, Options{})
}

// RunOptions is Run for an engine whose isolation differs from full
// serializability as o describes.
func RunOptions(t *testing.T, open func(t *testing.T) kv.Store, o Options) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.Store)
	}{
		{"PointOps", testPointOps},
		{"EmptyKey", testEmptyKey},
		{"LargeValue", testLargeValue},
		{"Scan", testScan},
		{"ScanManyKeys", testScanManyKeys},
		{"Seek", testSeek},
		{"SeekWrongDirection", testSeekWrongDirection},
		{"IterLifecycle", testIterLifecycle},
		{"IterAfterClose", testIterAfterClose},
		{"NextPair", testNextPair},
		{"InvalidBounds", testInvalidBounds},
		{"DeleteRange", testDeleteRange},
		{"DeleteRangeLarge", testDeleteRangeLarge},
		{"BatchOrder", testBatchOrder},
		{"BatchOwnership", testBatchOwnership},
		{"BatchAtomicity", testBatchAtomicity},
		{"TxnOwnership", testTxnOwnership},
		{"GetOwnership", testGetOwnership},
		{"IterBoundsOwnership", testIterBoundsOwnership},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"UpdateError", testUpdateError},
		{"UpdatePanic", testUpdatePanic},
		{"ViewError", testViewError},
		{"ViewSnapshot", testViewSnapshot},
		{"LostUpdate", testLostUpdate},
		{"UpdateVsApply", testUpdateVsApply},
		{"CommitOrder", testCommitOrder},
		{"Canceled", testCanceled},
		{"TxnAfterEnd", testTxnAfterEnd},
		{"CommitKeepsNoValue", testCommitKeepsNoValue},
		{"Closed", testClosed},
		{"CloseDuringUse", testCloseDuringUse},
		{"Random", testRandom},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"WriteSkew", testWriteSkew},
		{"Phantom", func(t *testing.T, s kv.Store) { testPhantom(t, s, o) }},
		{"PartialScan", func(t *testing.T, s kv.Store) { testPartialScan(t, s, o) }},
		{"ReverseScanConflict", func(t *testing.T, s kv.Store) { testReverseScanConflict(t, s, o) }},
		{"DeleteRangeConflict", testDeleteRangeConflict},
		{"ApplyConflict", testApplyConflict},
		{"NoTornReads", testNoTornReads},
		{"UpdateKey", testUpdateKey},
		{"UpdateKeyConflict", testUpdateKeyConflict},
		{"UpdateKeyLostUpdate", testUpdateKeyLostUpdate},
		{"SetKey", testSetKey},
		{"SetKeyConflict", testSetKeyConflict},
		{"MergeKey", testMergeKey},
		{"MergeKeyConflict", testMergeKeyConflict},
		{"MergeKeyConcurrent", testMergeKeyConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil && !errors.Is(err, kv.ErrClosed) {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}
