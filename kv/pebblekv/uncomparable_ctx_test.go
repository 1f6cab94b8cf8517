package pebblekv_test

import (
	"context"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// mapCtx is a context passed by value whose type is not comparable (it
// holds a map): comparing two of them with == panics.
type mapCtx struct {
	context.Context
	tags map[string]string
}

// TestViewIterUncomparableContext opens a View and its first iterator with
// two contexts of a type that == cannot compare: the View lends its anchor
// iterator to the first NewIter, which once compared the two contexts and
// panicked.
func TestViewIterUncomparableContext(t *testing.T) {
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(context.Background(), func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	err = s.View(mapCtx{context.Background(), map[string]string{"a": "b"}}, func(r kv.Reader) error {
		it, err := r.NewIter(mapCtx{context.Background(), map[string]string{}}, kv.IterOptions{})
		if err != nil {
			return err
		}
		if !it.First() || string(it.Key()) != "k" {
			t.Errorf("the iterator does not find the one key")
		}
		return it.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
