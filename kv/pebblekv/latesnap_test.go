package pebblekv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
)

// TestLateSnapshotConsistent: an Update's first Get reads the latest state
// and the snapshot is taken at its second read; a commit made in between
// that wrote the first key must make the attempt run again rather than let
// it see the first key's old value next to the second key's new one.
func TestLateSnapshotConsistent(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	put := func(k, v string) {
		t.Helper()
		b := kv.NewBatch()
		if err := b.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "0")
	put("b", "0")
	attempts := 0
	var seen [][2]string
	err := s.Update(ctx, func(txn kv.Txn) error {
		attempts++
		a, err := txn.Get(ctx, []byte("a"))
		if err != nil {
			return err
		}
		if attempts == 1 {
			// A commit of its own, after the transaction's first read.
			b := kv.NewBatch()
			_ = b.Set([]byte("a"), []byte("1"))
			_ = b.Set([]byte("b"), []byte("1"))
			if err := s.Apply(ctx, b); err != nil {
				return err
			}
		}
		bv, err := txn.Get(ctx, []byte("b"))
		if err != nil {
			return err
		}
		seen = append(seen, [2]string{string(a), string(bv)})
		return txn.Set([]byte("c"), append(a, bv...))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range seen {
		if p[0] != p[1] {
			t.Errorf("an attempt read a=%s with b=%s: two states", p[0], p[1])
		}
	}
	if attempts != 2 {
		t.Errorf("%d attempts, want 2 (the first conflicts)", attempts)
	}
	got, err := s.Get(ctx, []byte("c"))
	if err != nil || string(got) != "11" {
		t.Errorf("c = %q, %v; want 11", got, err)
	}
	if errors.Is(err, kv.ErrConflict) {
		t.Error("conflict leaked")
	}
}
