package pebblekv

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/protoql/protoql/kv"
)

// openWithKeys opens a store holding n keys k0000… with values v….
func openWithKeys(tb testing.TB, n int) *Store {
	tb.Helper()
	s, err := Open(tb.TempDir(), WithSync(false))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	b := kv.NewBatch()
	for i := range n {
		if err := b.Set(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%04d", i)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Apply(context.Background(), b); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestViewGetAllocs holds a View's point read to the one allocation of
// the value it returns, which is the caller's: the read's upper bound is
// built in the view's own buffer (Pebble copies bounds), from the view's
// first read on. With an open iterator holding the anchor a read clones
// it (Pebble's allocations, not counted): that case checks only that the
// reused buffer reads the right keys.
func TestViewGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	s := openWithKeys(t, 4)
	key, want := []byte("k0002"), "v0002"
	err := s.View(ctx, func(r kv.Reader) error {
		var ferr error
		got := testing.AllocsPerRun(200, func() {
			v, err := r.Get(ctx, key)
			if err != nil || string(v) != want {
				ferr = fmt.Errorf("Get(%s) = %q, %v; want %q", key, v, err, want)
			}
		})
		if ferr != nil {
			return ferr
		}
		if got > 1 {
			t.Errorf("a View's Get: %.1f allocations, want at most 1 (the value)", got)
		}
		// With the anchor lent to an open iterator, Gets of other keys
		// read right: the bound buffer is reused across reads.
		it, err := r.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		for i := range 4 {
			k := fmt.Appendf(nil, "k%04d", i)
			v, err := r.Get(ctx, k)
			if err != nil || string(v) != fmt.Sprintf("v%04d", i) {
				return fmt.Errorf("Get(%s) with the anchor lent = %q, %v", k, v, err)
			}
		}
		if _, err := r.Get(ctx, []byte("k00021")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("Get of a missing key sharing a prefix: %v, want not found", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A view's first Get allocates no bound either: a View holding one
	// Get allocates the value more than an empty View.
	var ferr error
	empty := testing.AllocsPerRun(200, func() {
		if err := s.View(ctx, func(kv.Reader) error { return nil }); err != nil {
			ferr = err
		}
	})
	one := testing.AllocsPerRun(200, func() {
		err := s.View(ctx, func(r kv.Reader) error {
			_, err := r.Get(ctx, key)
			return err
		})
		if err != nil {
			ferr = err
		}
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	if one-empty > 1 {
		t.Errorf("a View with one Get: %.1f allocations, an empty View %.1f; want at most 1 more (the value)", one, empty)
	}
}

// BenchmarkViewGet reads b.N keys with Get in one View, the anchor free
// for each (a point query's reads): for instruction counts per Get under
// callgrind, run it at two -benchtime=Nx and take the difference.
func BenchmarkViewGet(b *testing.B) {
	ctx := context.Background()
	s := openWithKeys(b, 1024)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "k%04d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	err := s.View(ctx, func(r kv.Reader) error {
		for i := range b.N {
			if _, err := r.Get(ctx, keys[i%len(keys)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
