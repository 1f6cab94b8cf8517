package kvtest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/protoql/protoql/kv"
)

// testNextPair checks kv.PairNexter, on the readers whose iterators
// implement it (the store's, a View's, an Update's): NextPair visits what Next, Key and Value visit, over every bound
// case in both directions, leaves the iterator where Next would (Key and
// Value answer the pair it returned), and once the iterator has failed,
// been closed, or outlived its owner it moves nowhere and reports the
// error Next reports.
func testNextPair(t *testing.T, s kv.Store) {
	if !pairNexts(t, s) {
		t.Skip("the store's iterators do not implement kv.PairNexter")
	}
	m := newModel()
	fill(t, s, m, edgeKeys)
	readers(t, s, func(t *testing.T, r kv.Reader) {
		if !pairNexts(t, r) {
			t.Skip("this reader's iterators do not implement kv.PairNexter")
		}
		for _, tt := range boundCases {
			for _, reverse := range []bool{false, true} {
				opts := kv.IterOptions{LowerBound: tt.lower, UpperBound: tt.upper, Reverse: reverse}
				what := fmt.Sprintf("%s, reverse=%v", tt.name, reverse)
				got := scanPairs(t, r, opts, what)
				if want := m.scan(opts); !slices.Equal(got, want) {
					t.Fatalf("%s: NextPair scan:\ngot  %s\nwant %s", what, fmtPairs(got), fmtPairs(want))
				}
			}
		}
		// A failed iterator (a seek of the wrong direction) keeps its
		// error: NextPair does not move it.
		for _, reverse := range []bool{false, true} {
			it := newPairIter(t, r, kv.IterOptions{Reverse: reverse})
			if !it.First() {
				t.Fatalf("First = false (error %v)", it.Error())
			}
			if reverse {
				it.SeekGE([]byte("a"))
			} else {
				it.SeekLT([]byte("a"))
			}
			checkNoPair(t, fmt.Sprintf("reverse=%v, after a wrong-direction seek", reverse), it, kv.ErrInvalid)
			it.Close()
		}
		// A closed iterator.
		it := newPairIter(t, r, kv.IterOptions{})
		if !it.First() {
			t.Fatalf("First = false (error %v)", it.Error())
		}
		if err := it.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		checkNoPair(t, "after Close", it, kv.ErrClosed)
	})
	// Iterators left at a pair when their owner ended: the transaction's,
	// the view's, then the store's.
	var txIt, viewIt kv.Iterator
	if err := s.Update(t.Context(), func(tx kv.Txn) error {
		if !pairNexts(t, tx) {
			return nil
		}
		txIt = newPairIter(t, tx, kv.IterOptions{})
		if !txIt.First() {
			t.Errorf("First = false (error %v)", txIt.Error())
		}
		return nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.View(t.Context(), func(r kv.Reader) error {
		if !pairNexts(t, r) {
			return nil
		}
		viewIt = newPairIter(t, r, kv.IterOptions{Reverse: true})
		if !viewIt.First() {
			t.Errorf("First = false (error %v)", viewIt.Error())
		}
		return nil
	}); err != nil {
		t.Fatalf("View: %v", err)
	}
	if txIt != nil {
		checkNoPair(t, "after Update", txIt, kv.ErrClosed)
	}
	if viewIt != nil {
		checkNoPair(t, "after View", viewIt, kv.ErrClosed)
	}
	storeIt := newPairIter(t, s, kv.IterOptions{})
	if !storeIt.First() {
		t.Fatalf("First = false (error %v)", storeIt.Error())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkNoPair(t, "after the store's Close", storeIt, kv.ErrClosed)
}

// pairNexts reports whether r's iterators implement kv.PairNexter (an
// engine may offer it on some readers only: pebblekv's Update iterators
// are occ's).
func pairNexts(t *testing.T, r kv.Reader) bool {
	t.Helper()
	it, err := r.NewIter(t.Context(), kv.IterOptions{})
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	_, ok := it.(kv.PairNexter)
	if err := it.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return ok
}

// newPairIter opens an iterator of r that implements kv.PairNexter.
func newPairIter(t *testing.T, r kv.Reader, opts kv.IterOptions) kv.Iterator {
	t.Helper()
	it, err := r.NewIter(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewIter(%s): %v", fmtOpts(opts), err)
	}
	if _, ok := it.(kv.PairNexter); !ok {
		t.Fatalf("NewIter(%s): %T does not implement kv.PairNexter", fmtOpts(opts), it)
	}
	return it
}

// scanPairs scans r with First and NextPair, checking after each pair
// that Key and Value answer it, and after the end that the iterator is at
// no pair, has no error, and that NextPair stays there.
func scanPairs(t *testing.T, r kv.Reader, opts kv.IterOptions, what string) []pair {
	t.Helper()
	it := newPairIter(t, r, opts)
	defer it.Close()
	pn := it.(kv.PairNexter)
	var out []pair
	if it.First() {
		out = append(out, pair{string(it.Key()), string(it.Value())})
		for {
			k, v, ok := pn.NextPair()
			if !ok {
				if k != nil || v != nil {
					t.Errorf("%s: NextPair = %q, %q, false; want nil, nil", what, k, v)
				}
				break
			}
			if !it.Valid() || string(it.Key()) != string(k) || string(it.Value()) != string(v) {
				t.Fatalf("%s: NextPair = %q, %q, but Valid, Key, Value = %v, %q, %q", what, k, v, it.Valid(), it.Key(), it.Value())
			}
			out = append(out, pair{string(k), string(v)})
		}
	}
	if err := it.Error(); err != nil {
		t.Fatalf("%s: iterator: %v", what, err)
	}
	checkUnpositioned(t, what+": after the last pair", it)
	if k, v, ok := pn.NextPair(); ok || k != nil || v != nil {
		t.Errorf("%s: NextPair after the end = %q, %q, %v; want nil, nil, false", what, k, v, ok)
	}
	if err := it.Error(); err != nil {
		t.Errorf("%s: Error after NextPair at the end: %v", what, err)
	}
	return out
}

// checkNoPair checks that NextPair on it returns no pair, leaves it at no
// pair, and that its error wraps want.
func checkNoPair(t *testing.T, what string, it kv.Iterator, want error) {
	t.Helper()
	if k, v, ok := it.(kv.PairNexter).NextPair(); ok || k != nil || v != nil {
		t.Errorf("%s: NextPair = %q, %q, %v; want nil, nil, false", what, k, v, ok)
	}
	checkUnpositioned(t, what, it)
	wantErr(t, what+": Error", it.Error(), want)
}
