package pebblekv

import (
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSetKeyReturnsZeroItems checks that setKey, which zeroes only the
// fields of its commit item it set (releaseKey) and keeps the item's
// Pebble batch, reset, puts the item back into its pool zero but for an
// empty batch: a field left set would reach the next single-key write (a
// stale key would make its write set a point write of that key), and a
// batch not reset would commit the last write again with the next. It
// fails with any of releaseKey's stores removed, or with the batch kept
// without Reset. sync.Pool hands the item just put back to the next Get on
// the same P; under the race detector it drops some at random, so only
// the check that some item kept its batch runs without it.
func TestSetKeyReturnsZeroItems(t *testing.T) {
	w := groupWriter(t)
	kept := 0
	for i, op := range []keyOp{opSet, opDelete, opMerge, opSet} {
		if err := w.setKey([]byte("k"), []byte("value"), op); err != nil {
			t.Fatalf("setKey %d: %v", i, err)
		}
		it, _ := w.keyItems.Get().(*commitItem)
		if it == nil {
			continue // dropped by the pool
		}
		v := reflect.ValueOf(it).Elem()
		for f := range v.NumField() {
			if name := v.Type().Field(f).Name; name != "b" && !v.Field(f).IsZero() {
				t.Errorf("after setKey %d (op %d): the pooled item's %s is %v, want zero", i, op, name, v.Field(f))
			}
		}
		if it.b != nil {
			kept++
			if !it.b.Empty() {
				t.Errorf("after setKey %d (op %d): the pooled item's batch holds %d operations, want none", i, op, it.b.Count())
			}
		}
		w.keyItems.Put(it)
	}
	if kept == 0 && !raceEnabled {
		t.Error("no pooled item kept its batch")
	}
}

// TestSetKeyPanickedCommitDropsBatch checks that a setKey whose commit
// panicked (here Pebble's on a closed database) does not pool its item's
// batch as though it had committed: it never returned an error, but its
// batch met one, and Pebble reuses no such batch (releaseKey). It fails
// with releaseKey told that a commit succeeded when setKey's err is nil.
func TestSetKeyPanickedCommitDropsBatch(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: errorLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{} // closed below, not by groupWriter's cleanup
	w.init(db, nil, false, false, time.Minute)
	if err := w.setKey([]byte("k"), []byte("value"), opSet); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Close(); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("setKey on a closed Pebble database did not panic")
			}
		}()
		_ = w.setKey([]byte("k"), []byte("value"), opSet)
	}()
	// Each item in the pool: under the race detector sync.Pool drops some
	// at random, so an empty pool passes.
	for it, _ := w.keyItems.Get().(*commitItem); it != nil; it, _ = w.keyItems.Get().(*commitItem) {
		if it.b != nil {
			t.Error("the pool holds a batch whose commit panicked")
		}
	}
}
