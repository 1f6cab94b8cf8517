package pebblekv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
)

// TestValueAfterEnd checks that Value, asked first after the iterator's
// owner ended (before Valid or Key, which would notice the end
// themselves), reports no value and the end as the iterator's error:
// Value returns an in-place value taken when the iterator landed, and
// must not hand it out once Pebble may have released its memory.
func TestValueAfterEnd(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	var kept kv.Iterator
	err := s.View(ctx, func(r kv.Reader) error {
		it, err := r.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		if !it.First() || string(it.Value()) != "v" {
			t.Errorf("in the view: First, Value = %q, want v", it.Value())
		}
		kept = it
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := kept.Value(); v != nil {
		t.Errorf("after the view: Value = %q, want nil", v)
	}
	if err := kept.Error(); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("after the view: Error = %v, want ErrClosed", err)
	}

	it, err := s.NewIter(ctx, kv.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !it.First() || string(it.Value()) != "v" {
		t.Fatalf("store iterator: First, Value = %q, want v", it.Value())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v := it.Value(); v != nil {
		t.Errorf("after Close: Value = %q, want nil", v)
	}
	if err := it.Error(); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("after Close: Error = %v, want ErrClosed", err)
	}
}
