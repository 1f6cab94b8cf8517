package kvtest

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
)

// testSetKey checks kv.KeySetter, on stores that implement it: SetKey and
// DeleteKey write what Apply of the one-operation batch writes, keep no
// buffer, and refuse bad calls without writing.
func testSetKey(t *testing.T, s kv.Store) {
	ks, ok := s.(kv.KeySetter)
	if !ok {
		t.Skip("the store does not implement kv.KeySetter")
	}
	ctx := t.Context()
	key, other := []byte("ks\x00\xff"), []byte("ks\x00")
	mustSet(t, s, other, []byte("other"))
	// A new key, then a replaced value; the caller's buffers are not kept.
	k, v := append([]byte(nil), key...), []byte("one\x00")
	if err := ks.SetKey(ctx, k, v); err != nil {
		t.Fatalf("SetKey: %v", err)
	}
	copy(k, "XXXX")
	copy(v, "XXXX")
	checkValue(t, s, key, "one\x00")
	if err := ks.SetKey(ctx, key, []byte("two")); err != nil {
		t.Fatalf("SetKey: %v", err)
	}
	checkValue(t, s, key, "two")
	// An empty value is a value.
	if err := ks.SetKey(ctx, key, nil); err != nil {
		t.Fatalf("SetKey: %v", err)
	}
	checkValue(t, s, key, "")
	// DeleteKey removes the key and nothing else; a missing key is no
	// error.
	for range 2 {
		if err := ks.DeleteKey(ctx, key); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get after DeleteKey: %v, want ErrNotFound", err)
		}
	}
	checkValue(t, s, other, "other")
	// Bad calls fail and write nothing.
	wantErr(t, "SetKey of the empty key", ks.SetKey(ctx, nil, []byte("v")), kv.ErrInvalid)
	wantErr(t, "SetKey of an empty non-nil key", ks.SetKey(ctx, []byte{}, []byte("v")), kv.ErrInvalid)
	wantErr(t, "DeleteKey of the empty key", ks.DeleteKey(ctx, nil), kv.ErrInvalid)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, "SetKey with a canceled context", ks.SetKey(canceled, key, []byte("no")), context.Canceled)
	if _, err := s.Get(ctx, key); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("SetKey with a canceled context wrote: Get = %v, want ErrNotFound", err)
	}
	wantErr(t, "DeleteKey with a canceled context", ks.DeleteKey(canceled, other), context.Canceled)
	checkValue(t, s, other, "other")
	// Nothing else was written: the store holds other only.
	m := newModel()
	m.set(other, []byte("other"))
	checkAll(t, s, m, [][]byte{key, other})
}

// testSetKeyConflict makes SetKey or DeleteKey land between a
// transaction's read of the key (a Get, found or missing, or a scan
// covering it) and its commit, deterministically: the transaction must
// conflict and run again on the new state, as it does with Apply
// (testApplyConflict); an engine that did not log the write would let
// the transaction commit a copy of the state before it.
func testSetKeyConflict(t *testing.T, s kv.Store) {
	ks, ok := s.(kv.KeySetter)
	if !ok {
		t.Skip("the store does not implement kv.KeySetter")
	}
	key, cp := []byte("ksc\x00k"), []byte("ksc-copy")
	get, scan := keyReaders(t, key, []byte("ksc\x00"), []byte("ksc\x01"))
	for _, tc := range []struct {
		name  string
		old   string // "" for a missing key
		read  func(kv.Txn) ([]byte, error)
		write func() error
		want  string
	}{
		{"set after a get", "old", get, func() error { return ks.SetKey(t.Context(), key, []byte("new")) }, "=new"},
		{"set after a get of a missing key", "", get, func() error { return ks.SetKey(t.Context(), key, []byte("new")) }, "=new"},
		{"delete after a get", "old", get, func() error { return ks.DeleteKey(t.Context(), key) }, "=-"},
		{"set after a scan", "old", scan, func() error { return ks.SetKey(t.Context(), key, []byte("new")) }, "=new"},
		{"set after a scan of an empty range", "", scan, func() error { return ks.SetKey(t.Context(), key, []byte("new")) }, "=new"},
		{"delete after a scan", "old", scan, func() error { return ks.DeleteKey(t.Context(), key) }, "=-"},
	} {
		var old []byte
		if tc.old != "" {
			old = []byte(tc.old)
		}
		v, runs, err := writeBetweenReadAndCommit(t, s, key, cp, old, tc.read, tc.write)
		if err != nil || string(v) != tc.want || runs < 2 {
			t.Errorf("%s between a read and the commit: copy = %q, %v after %d attempts; want %q after at least 2", tc.name, v, err, runs, tc.want)
		}
	}
}

// keyReaders returns two reads of key inside a transaction, for the
// conflict tests of single-key writes: a Get (a missing key reads "-")
// and a scan of [lo, hi) that holds it (its values concatenated, "-" when
// empty).
func keyReaders(t *testing.T, key, lo, hi []byte) (get, scan func(kv.Txn) ([]byte, error)) {
	get = func(tx kv.Txn) ([]byte, error) {
		v, err := tx.Get(t.Context(), key)
		if errors.Is(err, kv.ErrNotFound) {
			return []byte("-"), nil
		}
		return v, err
	}
	scan = func(tx kv.Txn) ([]byte, error) {
		it, err := tx.NewIter(t.Context(), kv.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return nil, err
		}
		var v []byte
		for ok := it.First(); ok; ok = it.Next() {
			v = append(v, it.Value()...)
		}
		if len(v) == 0 {
			v = []byte("-")
		}
		return v, it.Close()
	}
	return get, scan
}

// writeBetweenReadAndCommit stores old under key (deletes key when old is
// nil), then runs a transaction that reads with read, lets write commit
// before it commits, and copies what it read, prefixed with "=", to cp.
// It returns the copy and how many times the transaction ran: a
// transaction that did not conflict with write copied the state before it
// after one run.
func writeBetweenReadAndCommit(t *testing.T, s kv.Store, key, cp, old []byte, read func(kv.Txn) ([]byte, error), write func() error) (v []byte, runs int, err error) {
	var b kv.Batch
	if old != nil {
		_ = b.Set(key, old)
	} else {
		_ = b.Delete(key)
	}
	mustApply(t, s, &b)
	runs = interleaveFunc(t, s, func(tx kv.Txn, pause func() error) error {
		v, err := read(tx)
		if err != nil {
			return err
		}
		if err := pause(); err != nil {
			return err
		}
		return tx.Set(cp, append([]byte("="), v...))
	}, write)
	v, err = s.Get(t.Context(), cp)
	return v, runs, err
}
