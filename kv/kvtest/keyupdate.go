package kvtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/protoql/protoql/kv"
)

// testUpdateKey checks kv.KeyUpdater, on stores that implement it: what
// fn sees and what its results write.
func testUpdateKey(t *testing.T, s kv.Store) {
	ku, ok := s.(kv.KeyUpdater)
	if !ok {
		t.Skip("the store does not implement kv.KeyUpdater")
	}
	ctx := t.Context()
	key := []byte("ku\x00\xff")
	// A missing key: found false, then the write.
	err := ku.UpdateKey(ctx, key, func(val []byte, found bool) ([]byte, bool, error) {
		if found || val != nil {
			t.Errorf("missing key: found %v, val %q", found, val)
		}
		return []byte("one\x00"), true, nil
	})
	if err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	checkValue(t, s, key, "one\x00")
	// fn sees the stored value; out may alias it.
	err = ku.UpdateKey(ctx, key, func(val []byte, found bool) ([]byte, bool, error) {
		if !found || string(val) != "one\x00" {
			t.Errorf("UpdateKey saw %q, %v; want %q", val, found, "one\x00")
		}
		return val[:3], true, nil
	})
	if err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	checkValue(t, s, key, "one")
	// The caller's out is copied: changing it afterwards changes nothing.
	out := []byte("two")
	if err := ku.UpdateKey(ctx, key, func([]byte, bool) ([]byte, bool, error) { return out, true, nil }); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	copy(out, "XXX")
	checkValue(t, s, key, "two")
	// write false, or an error, writes nothing; the error is fn's.
	if err := ku.UpdateKey(ctx, key, func([]byte, bool) ([]byte, bool, error) { return []byte("no"), false, nil }); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	errFn := errors.New("fn failed")
	if err := ku.UpdateKey(ctx, key, func([]byte, bool) ([]byte, bool, error) { return []byte("no"), true, errFn }); err != errFn {
		t.Fatalf("UpdateKey returned %v, want fn's error unchanged", err)
	}
	checkValue(t, s, key, "two")
	// An empty value is a value.
	if err := ku.UpdateKey(ctx, key, func([]byte, bool) ([]byte, bool, error) { return nil, true, nil }); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	checkValue(t, s, key, "")
	wantErr(t, "UpdateKey of the empty key", ku.UpdateKey(ctx, nil, func([]byte, bool) ([]byte, bool, error) { return nil, true, nil }), kv.ErrInvalid)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, "UpdateKey with a canceled context", ku.UpdateKey(canceled, key, func([]byte, bool) ([]byte, bool, error) { return nil, true, nil }), context.Canceled)
}

// testUpdateKeyConflict makes a write of the key land between UpdateKey's
// read and its commit, deterministically: fn's first run writes the key
// through the store (a Set, then a DeleteRange holding it). The commit
// must fail and fn run again on the new state; an engine that skipped the
// check would lose that write.
func testUpdateKeyConflict(t *testing.T, s kv.Store) {
	ku, ok := s.(kv.KeyUpdater)
	if !ok {
		t.Skip("the store does not implement kv.KeyUpdater")
	}
	ctx := t.Context()
	key := []byte("kuc\x00\xff")
	mustSet(t, s, key, be64(1))
	for _, c := range []struct {
		name  string
		write func(b *kv.Batch)
		want  uint64 // the counter fn's second run must see
	}{
		{"set", func(b *kv.Batch) { _ = b.Set(key, be64(100)) }, 100},
		{"delete", func(b *kv.Batch) { _ = b.Delete(key) }, 0},
		{"delete range", func(b *kv.Batch) { _ = b.DeleteRange([]byte("kuc"), []byte("kud")) }, 0},
	} {
		runs := 0
		var seen []uint64
		err := ku.UpdateKey(ctx, key, func(val []byte, found bool) ([]byte, bool, error) {
			runs++
			n := uint64(0)
			if found {
				n = binary.BigEndian.Uint64(val)
			}
			seen = append(seen, n)
			if runs == 1 {
				var b kv.Batch
				c.write(&b)
				if err := s.Apply(ctx, &b); err != nil {
					return nil, false, err
				}
			}
			return be64(n + 1), true, nil
		})
		if err != nil {
			t.Fatalf("%s: UpdateKey: %v", c.name, err)
		}
		if runs != 2 || seen[1] != c.want {
			t.Errorf("%s: fn ran %d times and saw %v; want 2 runs, the second seeing %d (the concurrent write)", c.name, runs, seen, c.want)
		}
		checkValue(t, s, key, string(be64(c.want+1)))
		mustSet(t, s, key, be64(1))
	}
}

// testUpdateKeyLostUpdate increments one counter from several goroutines,
// half with UpdateKey and half with Update: no increment may be lost.
func testUpdateKeyLostUpdate(t *testing.T, s kv.Store) {
	ku, ok := s.(kv.KeyUpdater)
	if !ok {
		t.Skip("the store does not implement kv.KeyUpdater")
	}
	const goroutines, increments = 8, 50
	key := []byte("kucounter\x00\xff")
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range increments {
				var err error
				if g%2 == 0 {
					err = ku.UpdateKey(t.Context(), key, func(val []byte, found bool) ([]byte, bool, error) {
						var n uint64
						if found {
							n = binary.BigEndian.Uint64(val)
						}
						runtime.Gosched() // widen the read-modify-write window
						return be64(n + 1), true, nil
					})
				} else {
					err = s.Update(t.Context(), func(tx kv.Txn) error {
						var n uint64
						v, err := tx.Get(t.Context(), key)
						switch {
						case err == nil:
							n = binary.BigEndian.Uint64(v)
						case !errors.Is(err, kv.ErrNotFound):
							return err
						}
						runtime.Gosched()
						return tx.Set(key, be64(n+1))
					})
				}
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	v, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got := binary.BigEndian.Uint64(v); got != goroutines*increments {
		t.Errorf("counter = %d, want %d", got, goroutines*increments)
	}
}

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// checkValue fails unless key holds want.
func checkValue(t *testing.T, s kv.Store, key []byte, want string) {
	t.Helper()
	v, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if !bytes.Equal(v, []byte(want)) {
		t.Errorf("Get %q = %q, want %q", key, v, want)
	}
}
