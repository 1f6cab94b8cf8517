package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/kv"
)

func testDeleteRange(t *testing.T, s kv.Store) {
	tests := []struct {
		name       string
		start, end []byte
	}{
		{"one key by its prefix pair", []byte("a"), []byte("a\x00")},
		{"prefix a", []byte("a"), []byte("b")},
		{"prefix a\\x00", []byte("a\x00"), []byte("a\x01")},
		{"empty range", []byte("a"), []byte("a")},
		{"nil start", nil, []byte("a")},
		{"nil start and end", nil, nil},
		{"0xFF keys but not 0xFF 0xFF", []byte{0xFF}, []byte{0xFF, 0xFF}},
		{"everything", []byte{0x00}, []byte{0xFF, 0xFF, 0xFF}},
		{"no keys inside", []byte("c"), []byte("d")},
		{"bounds between keys", []byte("a\x00\x01"), []byte("a\xfe")},
	}
	paths := []struct {
		name string
		del  func(t *testing.T, start, end []byte)
	}{
		{"batch", func(t *testing.T, start, end []byte) {
			var b kv.Batch
			if err := b.DeleteRange(start, end); err != nil {
				t.Fatalf("Batch.DeleteRange: %v", err)
			}
			mustApply(t, s, &b)
		}},
		{"txn", func(t *testing.T, start, end []byte) {
			err := s.Update(t.Context(), func(tx kv.Txn) error { return tx.DeleteRange(start, end) })
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
		}},
	}
	for _, p := range paths {
		for _, tt := range tests {
			m := newModel()
			var clear kv.Batch
			_ = clear.DeleteRange(nil, []byte{0xFF, 0xFF, 0xFF, 0xFF})
			mustApply(t, s, &clear)
			fill(t, s, m, edgeKeys)
			p.del(t, tt.start, tt.end)
			m.deleteRange(tt.start, tt.end)
			t.Run(p.name+"/"+tt.name, func(t *testing.T) { checkAll(t, s, m, edgeKeys) })
		}
	}

	// start > end is invalid everywhere, and a failed DeleteRange does not
	// poison the transaction.
	var b kv.Batch
	wantErr(t, "Batch.DeleteRange(b, a)", b.DeleteRange([]byte("b"), []byte("a")), kv.ErrInvalid)
	wantErr(t, "Batch.DeleteRange(a, nil)", b.DeleteRange([]byte("a"), nil), kv.ErrInvalid)
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		wantErr(t, "Txn.DeleteRange(b, a)", tx.DeleteRange([]byte("b"), []byte("a")), kv.ErrInvalid)
		wantErr(t, "Txn.DeleteRange(a\\x00, a)", tx.DeleteRange([]byte("a\x00"), []byte("a")), kv.ErrInvalid)
		return tx.Set([]byte("after"), []byte("ok"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkGet(t, s, &model{vals: map[string]string{"after": "ok"}}, []byte("after"))
}

// testBatchOrder checks that a batch's operations apply in order, including a
// DeleteRange over keys set earlier in the same batch.
func testBatchOrder(t *testing.T, s kv.Store) {
	k, k2 := []byte("k"), []byte("k\x00")
	tests := []struct {
		name   string
		record func(b *kv.Batch)
	}{
		{"set then set", func(b *kv.Batch) { _ = b.Set(k, []byte("1")); _ = b.Set(k, []byte("2")) }},
		{"set then delete", func(b *kv.Batch) { _ = b.Set(k, []byte("1")); _ = b.Delete(k) }},
		{"delete then set", func(b *kv.Batch) { _ = b.Delete(k); _ = b.Set(k, []byte("2")) }},
		{"set then delete range", func(b *kv.Batch) {
			_ = b.Set(k, []byte("1"))
			_ = b.Set(k2, []byte("1"))
			_ = b.DeleteRange(k, k2)
		}},
		{"delete range then set", func(b *kv.Batch) {
			_ = b.DeleteRange(k, []byte("l"))
			_ = b.Set(k2, []byte("2"))
		}},
		{"empty batch", func(*kv.Batch) {}},
	}
	m := newModel()
	for _, tt := range tests {
		var b kv.Batch
		tt.record(&b)
		mustApply(t, s, &b)
		m.apply(b.Ops())
		t.Run(tt.name, func(t *testing.T) { checkAll(t, s, m, [][]byte{k, k2}) })
	}
	// Apply does not reset the batch, and applying it again is idempotent.
	var b kv.Batch
	_ = b.Set([]byte("again"), []byte("1"))
	mustApply(t, s, &b)
	mustApply(t, s, &b)
	if b.Len() != 1 {
		t.Errorf("Batch.Len after Apply = %d, want 1", b.Len())
	}
	m.apply(b.Ops())
	checkAll(t, s, m, [][]byte{[]byte("again")})
}

// testBatchOwnership checks that the store keeps no reference to the
// caller's buffers or to the batch's.
func testBatchOwnership(t *testing.T, s kv.Store) {
	key, val := []byte("key\x00"), []byte("value\xff")
	var b kv.Batch
	_ = b.Set(key, val)
	key[0], val[0] = 'X', 'X'
	mustApply(t, s, &b)
	key[1], val[1] = 'X', 'X'
	// Reusing the batch overwrites its buffer in place.
	b.Reset()
	_ = b.Set([]byte("KEY\x00"), []byte("VALUE\xff"))
	_ = b.Set([]byte("other"), []byte("zzzzzzzzzzzz"))
	m := newModel()
	m.set([]byte("key\x00"), []byte("value\xff"))
	checkAll(t, s, m, [][]byte{[]byte("key\x00"), []byte("Xey\x00"), []byte("XXy\x00")})
}

// testBatchAtomicity runs batches that rewrite a group of keys while
// concurrent Views check that they never see half of one.
func testBatchAtomicity(t *testing.T, s kv.Store) {
	const nkeys, nbatches = 16, 200
	keys := make([][]byte, nkeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "atom\x00%c\xff", 'a'+i)
	}
	lo, hi := []byte("atom\x00"), []byte("atom\x01")
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		var b kv.Batch
		for i := range nbatches {
			b.Reset()
			v := fmt.Appendf(nil, "%08d", i)
			if i%3 == 2 { // also a range deletion followed by a rewrite
				_ = b.DeleteRange(lo, hi)
			}
			for _, k := range keys {
				_ = b.Set(k, v)
			}
			if err := s.Apply(t.Context(), &b); err != nil {
				t.Errorf("Apply: %v", err)
				return
			}
		}
	})
	reads := make([]int, 2)
	for r := range reads {
		wg.Go(func() {
			for !done.Load() || reads[r] < 20 {
				if err := s.View(t.Context(), func(rd kv.Reader) error { return checkWhole(t, rd, keys, lo, hi) }); err != nil {
					t.Errorf("View: %v", err)
					return
				}
				reads[r]++
			}
		})
	}
	wg.Wait()
}

// checkWhole reports an error unless every key of a group is missing or all
// hold the same value, both through Get and through an iterator.
func checkWhole(t *testing.T, r kv.Reader, keys [][]byte, lo, hi []byte) error {
	var first []byte
	for i, k := range keys {
		v, err := r.Get(t.Context(), k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if i == 0 {
			first = v
		} else if !bytes.Equal(v, first) {
			return fmt.Errorf("torn batch: Get(%q) = %q, Get(%q) = %q", keys[0], first, k, v)
		}
	}
	it, err := r.NewIter(t.Context(), kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if !bytes.Equal(it.Value(), first) {
			return fmt.Errorf("torn batch: iterator saw %q at %q, Get saw %q", it.Value(), it.Key(), first)
		}
		n++
	}
	if n != 0 && n != len(keys) {
		return fmt.Errorf("torn batch: iterator saw %d of %d keys", n, len(keys))
	}
	return it.Close()
}

// testDeleteRangeLarge deletes ranges of hundreds of keys, mixed with writes
// inside them, in a transaction and in a batch: engines may delete small and
// large ranges differently (point deletions or range tombstones).
func testDeleteRangeLarge(t *testing.T, s kv.Store) {
	keys := make([][]byte, 500)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "big\x00%03d\xff", i)
	}
	m := newModel()
	fill(t, s, m, keys)
	at := func(i int) []byte { return fmt.Appendf(nil, "big\x00%03d", i) }
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		ops := []txnOp{
			{kv.OpSet, keys[150], []byte("set before the range deletion")},
			{kv.OpDeleteRange, at(100), at(400)},
			{kv.OpSet, keys[200], []byte("set after the range deletion")},
			{kv.OpSet, at(300), []byte("new key inside")},
			{kv.OpDelete, keys[450], nil},
		}
		for _, op := range ops {
			if err := op.apply(tx, m); err != nil {
				return err
			}
			checkAll(t, tx, m, [][]byte{keys[99], keys[100], keys[150], keys[200], at(300), keys[399], keys[400]})
			checkScan(t, tx, m, kv.IterOptions{LowerBound: at(150), UpperBound: at(350)})
			checkScan(t, tx, m, kv.IterOptions{LowerBound: at(150), UpperBound: at(350), Reverse: true})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkAll(t, s, m, [][]byte{keys[100], keys[150], keys[200], at(300)})

	var b kv.Batch
	_ = b.Set(keys[20], []byte("set before the range deletion"))
	_ = b.DeleteRange(nil, at(90))
	_ = b.Set(keys[50], []byte("set after the range deletion"))
	_ = b.DeleteRange(at(400), at(500))
	_ = b.Set(keys[499], []byte("last"))
	mustApply(t, s, &b)
	m.apply(b.Ops())
	checkAll(t, s, m, [][]byte{keys[20], keys[50], keys[89], keys[90], keys[499]})
}
