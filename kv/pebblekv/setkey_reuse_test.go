package pebblekv_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// TestSetKeyThenApplyConflicts runs, inside a transaction that read key
// b, a SetKey of key a and then an Apply writing b: the transaction must
// conflict and run again. SetKey and Apply once took their commit items
// from one pool (itemPool; SetKey now has its writer's, whose items keep
// their batch); had SetKey's key been left in an item Apply then reused,
// the Apply would have logged SetKey's key as its write set instead of b
// (commitItem.WriteSet), and the transaction would have committed a copy
// of b's old value. It stays as the guard of any pool the two share.
func TestSetKeyThenApplyConflicts(t *testing.T) {
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 20 { // the pool may drop an item (always possible, often under -race)
		a, b, cp := fmt.Appendf(nil, "a%02d", i), fmt.Appendf(nil, "b%02d", i), fmt.Appendf(nil, "cp%02d", i)
		var batch kv.Batch
		_ = batch.Set(b, []byte("old"))
		if err := s.Apply(ctx, &batch); err != nil {
			t.Fatal(err)
		}
		runs := 0
		err := s.Update(ctx, func(tx kv.Txn) error {
			runs++
			v, err := tx.Get(ctx, b)
			if err != nil {
				return err
			}
			if runs == 1 {
				if err := s.SetKey(ctx, a, []byte("x")); err != nil {
					return err
				}
				var w kv.Batch
				_ = w.Set(b, []byte("new"))
				if err := s.Apply(ctx, &w); err != nil {
					return err
				}
			}
			return tx.Set(cp, v)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, cp)
		if err != nil || string(got) != "new" || runs != 2 {
			t.Fatalf("round %d: copy of %s = %q, %v after %d runs; want \"new\" after 2 (the Apply after a SetKey logged the wrong write set)", i, b, got, err, runs)
		}
	}
}
