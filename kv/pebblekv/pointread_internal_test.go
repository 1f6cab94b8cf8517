package pebblekv

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/kv"
)

// TestViewLendsAnchor checks that a View reads with its anchor iterator
// while only one iterator is open at a time (a point query builds one
// Pebble iterator, not the anchor and a clone), that a second open
// iterator is a clone, that a closed borrower gives the anchor back for the
// next iterator with new bounds, and that every one of them reads the
// view's point in time within its own bounds. An iterator still open at
// the end of the view fails afterwards without closing the anchor twice.
func TestViewLendsAnchor(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(keys ...string) {
		t.Helper()
		b := kv.NewBatch()
		for _, k := range keys {
			if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(it kv.Iterator) (out []string) {
		t.Helper()
		for ok := it.First(); ok; ok = it.Next() {
			if string(it.Value()) != "v"+string(it.Key()) {
				t.Fatalf("%q holds %q", it.Key(), it.Value())
			}
			out = append(out, string(it.Key()))
		}
		if err := it.Error(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %q, want %q", what, got, want)
			}
		}
	}
	put("a", "b", "c", "d")
	var left kv.Iterator
	err = s.View(ctx, func(r kv.Reader) error {
		anchor := r.(*view).r.(*pointReader).anchor
		it1, err := r.NewIter(ctx, kv.IterOptions{LowerBound: []byte("a"), UpperBound: []byte("c")})
		if err != nil {
			return err
		}
		if it1.(*iterator).it != anchor {
			t.Error("the view's first iterator is not its anchor")
		}
		put("b2", "e") // after the view's point in time
		it2, err := r.NewIter(ctx, kv.IterOptions{LowerBound: []byte("b"), Reverse: true})
		if err != nil {
			return err
		}
		if it2.(*iterator).it == anchor {
			t.Error("a second open iterator is the anchor too")
		}
		want("first iterator", keys(it1), "a", "b")
		want("second iterator (reverse)", keys(it2), "d", "c", "b")
		if err := it1.Close(); err != nil {
			return err
		}
		it3, err := r.NewIter(ctx, kv.IterOptions{LowerBound: []byte("b"), UpperBound: []byte("z")})
		if err != nil {
			return err
		}
		if it3.(*iterator).it != anchor {
			t.Error("the anchor given back is not lent again")
		}
		want("anchor lent again, new bounds", keys(it3), "b", "c", "d")
		if err := it2.Close(); err != nil {
			return err
		}
		v, err := r.Get(ctx, []byte("c"))
		if err != nil || string(v) != "vc" {
			t.Errorf("Get(c) = %q, %v", v, err)
		}
		if _, err := r.Get(ctx, []byte("b2")); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Get(b2), written after the view began: %v, want ErrNotFound", err)
		}
		left = it3 // left open: the view's end closes the anchor once
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if left.First() || !errors.Is(left.Error(), kv.ErrClosed) {
		t.Errorf("an iterator left open after its view: First = true or error %v, want kv.ErrClosed", left.Error())
	}
	if err := left.Close(); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Close after the view: %v, want kv.ErrClosed", err)
	}
	err = s.View(ctx, func(r kv.Reader) error {
		it, err := r.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		want("a later view", keys(it), "a", "b", "b2", "c", "d", "e")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewGetLendsAnchor checks that a View's Get reads with the anchor
// when no iterator holds it (a seek of the anchor's own) and gives it back,
// found or not, for the next iterator; and that a Get while an iterator
// holds the anchor reads with a clone, leaving the borrower where it was.
func TestViewGetLendsAnchor(t *testing.T) {
	ctx := context.Background()
	s := openABC(t)
	err := s.View(ctx, func(r kv.Reader) error {
		anchor := r.(*view).r.(*pointReader).anchor
		seeks := func() int { return anchor.Stats().ForwardSeekCount[pebble.InterfaceCall] }
		get := func(what, key, want string) {
			t.Helper()
			v, err := r.Get(ctx, []byte(key))
			switch {
			case want == "" && !errors.Is(err, kv.ErrNotFound):
				t.Errorf("%s: Get(%s) = %q, %v; want ErrNotFound", what, key, v, err)
			case want != "" && (err != nil || string(v) != want):
				t.Errorf("%s: Get(%s) = %q, %v; want %q", what, key, v, err, want)
			}
		}
		lentNext := func(what string) kv.Iterator {
			t.Helper()
			it, err := r.NewIter(ctx, kv.IterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if it.(*iterator).it != anchor {
				t.Errorf("%s: the next iterator is not the anchor", what)
			}
			return it
		}
		for _, c := range []struct{ key, want string }{{"b", "vb"}, {"b0", ""}} {
			n := seeks()
			get("anchor free", c.key, c.want)
			if seeks() != n+1 {
				t.Errorf("Get(%s) with the anchor free: the anchor made %d seeks, want 1", c.key, seeks()-n)
			}
			it := lentNext("after Get(" + c.key + ")")
			if err := it.Close(); err != nil {
				return err
			}
		}
		it := lentNext("borrower")
		if !it.First() || string(it.Key()) != "a" {
			t.Fatalf("borrower's First: %q, %v", it.Key(), it.Error())
		}
		n := seeks()
		get("anchor lent", "c", "vc")
		get("anchor lent", "b0", "")
		if seeks() != n {
			t.Errorf("Gets with the anchor lent: the anchor made %d seeks, want 0", seeks()-n)
		}
		if !it.Next() || string(it.Key()) != "b" || string(it.Value()) != "vb" {
			t.Errorf("borrower's Next after the Gets: %q, %v; want b", it.Key(), it.Error())
		}
		return it.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openABC opens a store (closed when the test ends) holding the keys a, b
// and c with the values va, vb and vc: the views of the anchor tests.
func openABC(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := kv.NewBatch()
	for _, k := range []string{"a", "b", "c"} {
		if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return s
}
