package pebblekv

import (
	"reflect"
	"testing"
)

// TestSetKeyReturnsZeroItems checks that setKey, which zeroes only the
// fields of its commit item it set (releaseKey), puts the item back into
// the pool zero, as apply and attemptKey take items from it: a field left
// set would reach their next commit (a stale key would make its write set
// a point write of that key). It fails with any of releaseKey's stores
// removed. sync.Pool hands the item just put back to the next Get on the
// same P; under the race detector it drops some at random, so the check
// runs without it.
func TestSetKeyReturnsZeroItems(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	w := groupWriter(t)
	for i, op := range []keyOp{opSet, opDelete, opMerge, opSet} {
		if err := w.setKey([]byte("k"), []byte("value"), op); err != nil {
			t.Fatalf("setKey %d: %v", i, err)
		}
		it := itemPool.Get().(*commitItem)
		if v := reflect.ValueOf(it).Elem(); !v.IsZero() {
			for f := range v.NumField() {
				if !v.Field(f).IsZero() {
					t.Errorf("after setKey %d (op %d): the pooled item's %s is %v, want zero", i, op, v.Type().Field(f).Name, v.Field(f))
				}
			}
		}
		itemPool.Put(it)
	}
}
