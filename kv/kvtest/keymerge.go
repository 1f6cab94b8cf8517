package kvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/fieldpatch"
)

// varint is the record of field num holding the varint x.
func varint(num int32, x uint64) []byte {
	b := []byte(nil)
	for v := uint64(num) << 3; ; v >>= 7 {
		if v < 0x80 {
			b = append(b, byte(v))
			break
		}
		b = append(b, byte(v)|0x80)
	}
	for v := x; ; v >>= 7 {
		if v < 0x80 {
			return append(b, byte(v))
		}
		b = append(b, byte(v)|0x80)
	}
}

func mustPatch(t *testing.T, nums []int32, rec []byte) []byte {
	t.Helper()
	p, err := fieldpatch.Append(nil, nums, rec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testMergeKey checks kv.KeyMerger, on stores that can merge: after each
// of a random sequence of merges, Sets and Deletes of a few keys, Get
// (and a scan, and a transaction's Get) returns what applying the patch
// to the value before gives; the caller's buffers are not kept; bad calls
// fail and write nothing.
func testMergeKey(t *testing.T, s kv.Store) {
	km, ok := s.(kv.KeyMerger)
	if !ok || !km.CanMerge() {
		t.Skip("the store does not merge (kv.KeyMerger)")
	}
	ctx := t.Context()
	keys := [][]byte{[]byte("km\x00a"), []byte("km\x00b"), []byte("km\x00c\xff")}
	m := newModel()
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 400 {
		key := keys[rng.IntN(len(keys))]
		old, found := m.get(key)
		switch r := rng.IntN(10); {
		case r == 0:
			v := varint(int32(1+rng.IntN(4)), rng.Uint64N(1000))
			mustSet(t, s, key, v)
			m.set(key, v)
		case r == 1:
			var b kv.Batch
			_ = b.Delete(key)
			mustApply(t, s, &b)
			m.delete(key)
		default:
			num := int32(1 + rng.IntN(4))
			nums := []int32{num}
			if rng.IntN(3) == 0 {
				nums = append(nums, int32(1+rng.IntN(4))) // a oneof's other member
			}
			var rec []byte
			if rng.IntN(4) != 0 {
				rec = varint(num, rng.Uint64N(1<<20))
			}
			p := mustPatch(t, nums, rec)
			k := bytes.Clone(key)
			if err := km.MergeKey(ctx, k, p); err != nil {
				t.Fatalf("step %d: MergeKey: %v", step, err)
			}
			copy(k, "XXXX")
			for i := range p {
				p[i] = 0xee
			}
			var want []byte
			if found {
				want = fieldpatch.Merge(nil, old, mustPatch(t, nums, rec))
			} else {
				want = fieldpatch.Value(nil, mustPatch(t, nums, rec))
			}
			m.set(key, want)
		}
		want, found := m.get(key)
		got, err := s.Get(ctx, key)
		if !found {
			if !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("step %d: Get = %x, %v; want ErrNotFound", step, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("step %d: Get = %x, %v; want %x", step, got, err, want)
		}
	}
	checkAll(t, s, m, keys)
	err := s.Update(ctx, func(tx kv.Txn) error {
		for _, k := range keys {
			want, found := m.get(k)
			got, err := tx.Get(ctx, k)
			if found && (err != nil || !bytes.Equal(got, want)) || !found && !errors.Is(err, kv.ErrNotFound) {
				return fmt.Errorf("transaction's Get %q = %x, %v; want %x", k, got, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Bad calls fail and write nothing.
	key := keys[0]
	p := mustPatch(t, []int32{1}, varint(1, 7))
	wantErr(t, "MergeKey of the empty key", km.MergeKey(ctx, nil, p), kv.ErrInvalid)
	wantErr(t, "MergeKey of a base value", km.MergeKey(ctx, key, varint(1, 7)), kv.ErrInvalid)
	wantErr(t, "MergeKey of a bad patch", km.MergeKey(ctx, key, []byte{0, 1, 1}), kv.ErrInvalid)
	wantErr(t, "MergeKey of an empty patch", km.MergeKey(ctx, key, nil), kv.ErrInvalid)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, "MergeKey with a canceled context", km.MergeKey(canceled, key, p), context.Canceled)
	checkAll(t, s, m, keys)
}

// testMergeKeyConflict makes MergeKey land between a transaction's read
// of the key (a Get, found or missing, or a scan covering it) and its
// commit: the transaction must conflict and run again on the merged
// value, as it does with SetKey (testSetKeyConflict).
func testMergeKeyConflict(t *testing.T, s kv.Store) {
	km, ok := s.(kv.KeyMerger)
	if !ok || !km.CanMerge() {
		t.Skip("the store does not merge (kv.KeyMerger)")
	}
	key, cp := []byte("kmc\x00k"), []byte("kmc-copy")
	get, scan := keyReaders(t, key, []byte("kmc\x00"), []byte("kmc\x01"))
	old := varint(1, 5)
	p := mustPatch(t, []int32{2}, varint(2, 9))
	merged := string(fieldpatch.Merge(nil, old, p))
	for _, tc := range []struct {
		name string
		old  []byte // nil for a missing key
		read func(kv.Txn) ([]byte, error)
		want string
	}{
		{"merge after a get", old, get, "=" + merged},
		{"merge after a get of a missing key", nil, get, "=" + string(varint(2, 9))},
		{"merge after a scan", old, scan, "=" + merged},
		{"merge after a scan of an empty range", nil, scan, "=" + string(varint(2, 9))},
	} {
		v, runs, err := writeBetweenReadAndCommit(t, s, key, cp, tc.old, tc.read, func() error { return km.MergeKey(t.Context(), key, p) })
		if err != nil || string(v) != tc.want || runs < 2 {
			t.Errorf("%s between a read and the commit: copy = %x, %v after %d attempts; want %x after at least 2", tc.name, v, err, runs, tc.want)
		}
	}
}

// testMergeKeyConcurrent merges fields of one key from several goroutines
// at once, each its own field, and checks that no merge is lost: each
// field ends with its goroutine's last value (an engine that made some
// merges read-modify-writes, and committed one on a stale read, would
// lose another goroutine's field).
func testMergeKeyConcurrent(t *testing.T, s kv.Store) {
	km, ok := s.(kv.KeyMerger)
	if !ok || !km.CanMerge() {
		t.Skip("the store does not merge (kv.KeyMerger)")
	}
	key := []byte("kmx")
	const workers, each = 4, 200
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			num := int32(w + 1)
			for i := range each {
				p, err := fieldpatch.Append(nil, []int32{num}, varint(num, uint64(i+1)))
				if err == nil {
					err = km.MergeKey(t.Context(), key, p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatalf("MergeKey: %v", err)
		}
	}
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	// Each field once, with its last value, in any order.
	want := map[string]bool{}
	for w := range workers {
		want[string(varint(int32(w+1), each))] = true
	}
	for len(got) > 0 {
		n := len(varint(1, each)) // every record here is as long
		if n > len(got) || !want[string(got[:n])] {
			t.Fatalf("Get = %x: not each field once with its last value", got)
		}
		delete(want, string(got[:n]))
		got = got[n:]
	}
	if len(want) != 0 {
		t.Fatalf("%d fields missing from the merged value", len(want))
	}
}
