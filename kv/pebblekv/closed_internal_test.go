package pebblekv

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/protoql/protoql/kv"
)

// TestClosedKeyCalls checks that the single-key writes, the read-modify-
// write, the merge, Metrics and Checkpoint of a closed store fail with
// kv.ErrClosed (Metrics returns nil) without touching the closed Pebble
// database, whose calls panic: in particular setKey's pooled commit items
// (writer.keyItems), each keeping a batch of that database, are not used
// again. The conformance suite covers the other calls of a closed store.
func TestClosedKeyCalls(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	// Fill the pools: a commit item with its batch in keyItems, and a
	// merge counted.
	for _, k := range []string{"a", "b"} {
		if err := s.SetKey(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteKey(ctx, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeKey(ctx, []byte("m"), patch(t, []int32{1}, rec(1, 7))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ran := false
	for name, err := range map[string]error{
		"SetKey":    s.SetKey(ctx, []byte("a"), []byte("w")),
		"DeleteKey": s.DeleteKey(ctx, []byte("a")),
		"MergeKey":  s.MergeKey(ctx, []byte("m"), patch(t, []int32{1}, rec(1, 8))),
		"UpdateKey": s.UpdateKey(ctx, []byte("a"), func([]byte, bool) ([]byte, bool, error) {
			ran = true
			return []byte("x"), true, nil
		}),
		"UpdateLatest": s.UpdateLatest(ctx, func(kv.Txn) error { ran = true; return nil }),
		"Checkpoint":   s.Checkpoint(ctx, filepath.Join(t.TempDir(), "cp")),
	} {
		if !errors.Is(err, kv.ErrClosed) || !strings.HasPrefix(err.Error(), "pebblekv: ") {
			t.Errorf("%s after Close: %v, want kv.ErrClosed named by pebblekv", name, err)
		}
	}
	if ran {
		t.Error("a function ran on a closed store")
	}
	if m := s.Metrics(); m != nil {
		t.Error("Metrics after Close is not nil")
	}
}

// TestViewClosedBorrower checks that an iterator closed after borrowing
// its view's anchor (pointReader) never touches the anchor again, which
// the view lends to the next iterator: its positioning calls fail with
// kv.ErrClosed, and a second Close does not give the anchor back a second
// time, which would lend it to two iterators at once.
func TestViewClosedBorrower(t *testing.T) {
	ctx := context.Background()
	s := openABC(t)
	err := s.View(ctx, func(r kv.Reader) error {
		anchor := r.(*view).r.(*pointReader).anchor
		newIter := func(lo string) kv.Iterator {
			t.Helper()
			it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: []byte(lo)})
			if err != nil {
				t.Fatal(err)
			}
			return it
		}
		old := newIter("c")
		if old.(*iterator).it != anchor || !old.First() {
			t.Fatalf("the first iterator is not the anchor, or empty (%v)", old.Error())
		}
		if err := old.Close(); err != nil {
			return err
		}
		cur := newIter("a")
		if cur.(*iterator).it != anchor {
			t.Fatal("the anchor given back is not lent again")
		}
		if !cur.First() || string(cur.Key()) != "a" {
			t.Fatalf("the borrower's First: %q, %v", cur.Key(), cur.Error())
		}
		// The closed iterator, used again: every call fails, and none
		// moves the anchor under its borrower.
		if old.First() || old.SeekGE([]byte("c")) || old.Next() || old.Valid() || old.Key() != nil {
			t.Error("a closed iterator positioned itself")
		}
		if err := old.Error(); !errors.Is(err, kv.ErrClosed) {
			t.Errorf("closed iterator's Error: %v, want kv.ErrClosed", err)
		}
		if err := old.Close(); !errors.Is(err, kv.ErrClosed) {
			t.Errorf("second Close: %v, want kv.ErrClosed", err)
		}
		other := newIter("b")
		defer other.Close()
		if other.(*iterator).it == anchor {
			t.Error("the anchor, still lent, was lent again after a second Close of its earlier borrower")
		}
		if !other.First() || string(other.Key()) != "b" {
			t.Errorf("the other iterator's First: %q, %v; want b", other.Key(), other.Error())
		}
		if !cur.Next() || string(cur.Key()) != "b" || string(cur.Value()) != "vb" {
			t.Errorf("the borrower's Next: %q=%q, %v; want b=vb", cur.Key(), cur.Value(), cur.Error())
		}
		return cur.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIterNextAfterEnd checks that an iterator of a View or an Update kept
// past its end while at a pair (forward and reverse) does not move: Next
// fails, its Key and Value are nil and its Error wraps kv.ErrClosed. The
// end closed its Pebble iterator, so a Next that reached it would move a
// closed iterator (Next's fast path for transaction iterators must check
// the scope's end, as enter does).
func TestIterNextAfterEnd(t *testing.T) {
	ctx := context.Background()
	s := openABC(t)
	for _, reverse := range []bool{false, true} {
		for _, kind := range []string{"view", "update"} {
			var kept kv.Iterator
			keep := func(r kv.Reader) error {
				it, err := r.NewIter(ctx, kv.IterOptions{Reverse: reverse})
				if err != nil {
					return err
				}
				if !it.First() || !it.Next() {
					t.Fatalf("%s (reverse %v): the iterator did not reach its second pair: %v", kind, reverse, it.Error())
				}
				kept = it
				return nil
			}
			var err error
			if kind == "view" {
				err = s.View(ctx, keep)
			} else {
				err = s.Update(ctx, func(tx kv.Txn) error { return keep(tx) })
			}
			if err != nil {
				t.Fatal(err)
			}
			if kept.Next() {
				t.Errorf("%s (reverse %v): Next after the end moved to %q", kind, reverse, kept.Key())
			}
			if k, v := kept.Key(), kept.Value(); k != nil || v != nil {
				t.Errorf("%s (reverse %v): Key, Value after the end = %q, %q; want nil", kind, reverse, k, v)
			}
			if err := kept.Error(); !errors.Is(err, kv.ErrClosed) {
				t.Errorf("%s (reverse %v): Error after the end = %v, want kv.ErrClosed", kind, reverse, err)
			}
		}
	}
}

// TestStoreIterNextClosing checks a Store-level iterator's Next at a pair
// (forward and reverse) once the store's Close has begun: after Close it
// fails with kv.ErrClosed; and in the window where Close has closed the
// store's guard but the iterator has not yet seen the store's closing flag
// (made here by closing the guard alone), Next still fails with
// kv.ErrClosed and leaves the Pebble iterator where it stood, since that
// Close is about to close it (Next's fast path for Store-level iterators
// must enter the guard, as enter does).
func TestStoreIterNextClosing(t *testing.T) {
	ctx := context.Background()
	for _, reverse := range []bool{false, true} {
		for _, window := range []bool{false, true} {
			s := openABC(t)
			kept, err := s.NewIter(ctx, kv.IterOptions{Reverse: reverse})
			if err != nil {
				t.Fatal(err)
			}
			if !kept.First() || !kept.Next() {
				t.Fatalf("reverse %v: the iterator did not reach its second pair: %v", reverse, kept.Error())
			}
			pit := kept.(*iterator).it
			if window {
				if !s.g.Close() {
					t.Fatal("the store's guard was closed already")
				}
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if kept.Next() {
				t.Errorf("reverse %v, window %v: Next after Close began moved to %q", reverse, window, kept.Key())
			}
			if k, v := kept.Key(), kept.Value(); k != nil || v != nil {
				t.Errorf("reverse %v, window %v: Key, Value = %q, %q; want nil", reverse, window, k, v)
			}
			if err := kept.Error(); !errors.Is(err, kv.ErrClosed) {
				t.Errorf("reverse %v, window %v: Error = %v, want kv.ErrClosed", reverse, window, err)
			}
			if window {
				// The Pebble iterator, still open here, has not moved off
				// the second pair.
				if got := string(pit.Key()); got != "b" {
					t.Errorf("reverse %v: the Pebble iterator moved to %q, want %q", reverse, got, "b")
				}
				if err := pit.Close(); err != nil {
					t.Fatal(err)
				}
				if err := s.db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
