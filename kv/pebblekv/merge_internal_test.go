package pebblekv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/fieldpatch"
)

// rec is the record of field num holding the varint x.
func rec(num int32, x uint64) []byte {
	b := []byte{byte(num << 3)}
	for ; x >= 0x80; x >>= 7 {
		b = append(b, byte(x)|0x80)
	}
	return append(b, byte(x))
}

func patch(t testing.TB, nums []int32, r []byte) []byte {
	t.Helper()
	p, err := fieldpatch.Append(nil, nums, r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mergeModel is what the keys of a merge test hold.
type mergeModel map[string][]byte

// merge applies p to key in m and in s.
func (m mergeModel) merge(t testing.TB, s *Store, key string, p []byte) {
	t.Helper()
	if err := s.MergeKey(context.Background(), []byte(key), p); err != nil {
		t.Fatalf("MergeKey %q: %v", key, err)
	}
	if old, ok := m[key]; ok {
		m[key] = fieldpatch.Merge(nil, old, p)
	} else {
		m[key] = fieldpatch.Value(nil, p)
	}
}

// check compares every key of m with Get, a View's Get and a scan.
func (m mergeModel) check(t testing.TB, s *Store, when string) {
	t.Helper()
	ctx := context.Background()
	for k, want := range m {
		got, err := s.Get(ctx, []byte(k))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: Get %q = %x, %v; want %x", when, k, got, err, want)
		}
	}
	err := s.View(ctx, func(r kv.Reader) error {
		for k, want := range m {
			if got, err := r.Get(ctx, []byte(k)); err != nil || !bytes.Equal(got, want) {
				return fmt.Errorf("view's Get %q = %x, %v; want %x", k, got, err, want)
			}
		}
		it, err := r.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			n++
			if want := m[string(it.Key())]; !bytes.Equal(it.Value(), want) {
				return fmt.Errorf("scan at %q: %x, want %x", it.Key(), it.Value(), want)
			}
		}
		if n != len(m) {
			return fmt.Errorf("scan saw %d keys, want %d", n, len(m))
		}
		return it.Close()
	})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

// randomMerges makes n random merges (and a few Sets) of a few keys.
func (m mergeModel) randomMerges(t testing.TB, s *Store, rng *rand.Rand, n int) {
	t.Helper()
	for range n {
		key := fmt.Sprintf("k%d", rng.IntN(5))
		if rng.IntN(20) == 0 {
			v := rec(int32(1+rng.IntN(5)), rng.Uint64N(100))
			if err := s.SetKey(context.Background(), []byte(key), v); err != nil {
				t.Fatal(err)
			}
			m[key] = v
			continue
		}
		num := int32(1 + rng.IntN(5))
		var r []byte
		if rng.IntN(5) != 0 {
			r = rec(num, rng.Uint64N(1<<30))
		}
		m.merge(t, s, key, patch(t, []int32{num}, r))
	}
}

// TestMergeDurable checks that merged values read the same after a flush,
// a compaction of the whole range, a reopen and from a checkpoint, and
// that merges made after each keep applying to them.
func TestMergeDurable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithSync(false), WithMemTableSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if !s.CanMerge() {
		t.Fatal("a new store cannot merge")
	}
	m := mergeModel{}
	rng := rand.New(rand.NewPCG(3, 4))
	m.randomMerges(t, s, rng, 300)
	m.check(t, s, "in the memtable")
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	m.check(t, s, "after a flush")
	// Keys with a value in an sstable and a few patches in the
	// memtable: the flush merges the patches without the value
	// (includesBase false) and must keep a patch.
	for i := range 10 {
		k := fmt.Sprintf("b%d", i)
		v := append(rec(1, uint64(i)), rec(2, 7)...)
		if err := s.SetKey(context.Background(), []byte(k), v); err != nil {
			t.Fatal(err)
		}
		m[k] = v
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		m.merge(t, s, fmt.Sprintf("b%d", i%10), patch(t, []int32{3}, rec(3, uint64(i))))
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	m.check(t, s, "after a flush of patches only")
	m.randomMerges(t, s, rng, 300)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	m.randomMerges(t, s, rng, 100) // some left in the memtable
	if err := s.db.Compact(context.Background(), []byte("a"), []byte("z"), false); err != nil {
		t.Fatal(err)
	}
	m.check(t, s, "after a compaction")
	m.randomMerges(t, s, rng, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, WithSync(false)); err != nil {
		t.Fatal(err)
	}
	if !s.CanMerge() {
		t.Fatal("a store with merges cannot merge after a reopen")
	}
	m.check(t, s, "after a reopen")
	m.randomMerges(t, s, rng, 100)
	cp := filepath.Join(t.TempDir(), "cp")
	if err := s.Checkpoint(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	c, err := Open(cp, WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	m.check(t, c, "in a checkpoint")
	m.merge(t, c, "k0", patch(t, []int32{9}, rec(9, 9)))
	m.check(t, c, "after a merge in a checkpoint")
}

// TestMergeOldStore checks a store created with Pebble's default merger,
// as protoql v0.1.0 created them: it opens (Pebble refuses another
// merger), reads, cannot merge (MergeKey fails with errors.ErrUnsupported
// and writes nothing), and its other writes work.
func TestMergeOldStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := Open(dir, WithSync(false), WithPebbleOptions(&pebble.Options{Merger: pebble.DefaultMerger}))
	if err != nil {
		t.Fatal(err)
	}
	if old.CanMerge() {
		t.Fatal("a store with the default merger can merge")
	}
	if err := old.SetKey(ctx, []byte("k"), rec(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if got := storedMerger(vfs.Default, dir); got != "pebble.concatenate" {
		t.Fatalf("stored merger %q", got)
	}
	s, err := Open(dir, WithSync(false))
	if err != nil {
		t.Fatalf("Open of a v0.1.0 store: %v", err)
	}
	defer func() { _ = s.Close() }()
	if s.CanMerge() {
		t.Error("CanMerge on a store created with the default merger")
	}
	err = s.MergeKey(ctx, []byte("k"), patch(t, []int32{1}, rec(1, 2)))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MergeKey = %v, want errors.ErrUnsupported", err)
	}
	err = s.MergeKey(ctx, []byte("new"), patch(t, []int32{1}, rec(1, 2)))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MergeKey = %v, want errors.ErrUnsupported", err)
	}
	if v, err := s.Get(ctx, []byte("k")); err != nil || !bytes.Equal(v, rec(1, 1)) {
		t.Errorf("Get = %x, %v; want %x", v, err, rec(1, 1))
	}
	if _, err := s.Get(ctx, []byte("new")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get of a refused merge's key = %v, want ErrNotFound", err)
	}
	err = s.UpdateKey(ctx, []byte("k"), func(v []byte, _ bool) ([]byte, bool, error) {
		return fieldpatch.Merge(nil, v, patch(t, []int32{1}, rec(1, 3))), true, nil
	})
	if v, gerr := s.Get(ctx, []byte("k")); err != nil || gerr != nil || !bytes.Equal(v, rec(1, 3)) {
		t.Errorf("after UpdateKey: Get = %x, %v, %v; want %x", v, err, gerr, rec(1, 3))
	}
	// A new store records MergerName.
	nd := t.TempDir()
	n, err := Open(nd, WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	_ = n.Close()
	if got := storedMerger(vfs.Default, nd); got != MergerName {
		t.Errorf("a new store's merger is %q, want %q", got, MergerName)
	}
}

// TestMergeOperandsBounded checks that a read merges a bounded number of
// patches however many merges of the key were made since the last flush:
// every mergeEvery-th merge of a key is a read-modify-write. It merges
// one key 10,000 times and counts the values of the merge each Get
// finishes.
func TestMergeOperandsBounded(t *testing.T) {
	most, s := mergeCounting(t)
	m := mergeModel{}
	for i := range 10000 {
		m.merge(t, s, "hot", patch(t, []int32{1}, rec(1, uint64(i))))
	}
	m.check(t, s, "after the merges")
	if n := most("hot"); n == 0 || n > mergeEvery {
		t.Errorf("a read of %q merged %d values, want 1 to %d", "hot", n, mergeEvery)
	}
}

// TestMergeManyKeysStayBlind checks that merges of many distinct keys,
// each merged fewer than mergeEvery times since the last flush, are all
// blind: a read of each merges all its patches (no read-modify-write wrote
// a value under them), however many other keys were merged. Counters
// shared by several keys failed it: a key was counted under the others'
// merges.
func TestMergeManyKeysStayBlind(t *testing.T) {
	most, s := mergeCounting(t)
	m := mergeModel{}
	const keys, each = 5000, mergeEvery - 1
	for i := range each {
		for k := range keys {
			m.merge(t, s, fmt.Sprintf("k%05d", k), patch(t, []int32{1}, rec(1, uint64(i))))
		}
	}
	m.check(t, s, "after the merges")
	blind := 0
	for k := range keys {
		if most(fmt.Sprintf("k%05d", k)) == each {
			blind++
		}
	}
	if blind != keys {
		t.Errorf("%d of %d keys read all their %d patches; the others were read-modify-written", blind, keys, each)
	}
}

// TestMergeCountsFull checks that once the counts hold their room of
// keys (countRoom), a merge of a key they do not hold is a read-modify-write (so the
// bound holds without counting it), and that a flush empties them.
func TestMergeCountsFull(t *testing.T) {
	defer func(n int) { testCountRoom = n }(testCountRoom)
	testCountRoom = mergeShards * 10 * (5 + countOverhead) // 10 keys of 5 bytes per shard
	most, s := mergeCounting(t)
	m := mergeModel{}
	const keys = 40 * mergeShards
	for k := range keys {
		m.merge(t, s, fmt.Sprintf("k%04d", k), patch(t, []int32{1}, rec(1, uint64(k))))
	}
	m.check(t, s, "after the merges")
	patched := 0
	for k := range keys {
		switch most(fmt.Sprintf("k%04d", k)) {
		case 1:
			patched++
		case 0:
		default:
			t.Fatalf("key k%04d merged more than its one patch", k)
		}
	}
	if patched == 0 || patched > mergeShards*10 {
		t.Errorf("%d of %d keys were patched, want 1 to %d (the counts' room)", patched, keys, mergeShards*10)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	c := s.merges.Load()
	for i := range c.shards {
		if n := c.shards[i].used; n != 0 {
			t.Fatalf("shard %d holds %d keys after a flush", i, n)
		}
	}
}

// mergeCounting opens a store whose memtable is not flushed by the tests'
// merges, with the test hook recording the most values any merge of each
// key finished; most returns that number for a key (0: no merge, a plain
// value).
func mergeCounting(t *testing.T) (most func(string) int, s *Store) {
	var mu sync.Mutex
	seen := map[string]int{}
	hook := func(key []byte, n int) {
		mu.Lock()
		seen[string(key)] = max(seen[string(key)], n)
		mu.Unlock()
	}
	mergeHook.Store(&hook)
	t.Cleanup(func() { mergeHook.Store(nil) })
	s, err := Open(t.TempDir(), WithSync(false), WithMemTableSize(256<<20), WithCacheSize(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return func(k string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[k]
	}, s
}
