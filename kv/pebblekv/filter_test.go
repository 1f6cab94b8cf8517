package pebblekv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/protoql/protoql/kv"
)

// TestBloomFilterOptions checks the levels' filter policies Open gives
// Pebble: BloomBitsPerKey's bloom filter on L0–L5 and none on L6 by
// default, Pebble's own (unset) policies with BloomBitsPerKey zero, and the
// Pebble options' policies untouched when they set any level's; and the
// same for IndexBlockSize.
func TestBloomFilterOptions(t *testing.T) {
	levels := func(o Options) (out []string) {
		po, cache := o.pebbleOptions()
		if cache != nil {
			cache.Unref()
		}
		for _, l := range po.Levels {
			name := "unset"
			if l.FilterPolicy != nil {
				name = l.FilterPolicy.Name()
			}
			out = append(out, name)
		}
		return out
	}
	bloomName := bloom.FilterPolicy(10).Name()
	want := func(what string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: levels' filters %q, want %q", what, got, want)
		}
	}
	want("defaults", levels(DefaultOptions()), bloomName, bloomName, bloomName, bloomName, bloomName, bloomName, "none")

	o := DefaultOptions()
	WithBloomBitsPerKey(0)(&o)
	want("BloomBitsPerKey 0", levels(o), "unset", "unset", "unset", "unset", "unset", "unset", "unset")

	user := &pebble.Options{}
	user.Levels[2].FilterPolicy = bloom.FilterPolicy(4)
	o = DefaultOptions()
	WithPebbleOptions(user)(&o)
	want("Pebble options with a level's filter", levels(o), "unset", "unset", bloomName, "unset", "unset", "unset", "unset")
	if user.Levels[0].FilterPolicy != nil {
		t.Error("Open's options modified the caller's Pebble options")
	}

	sizes := func(o Options) (out []int) {
		po, cache := o.pebbleOptions()
		if cache != nil {
			cache.Unref()
		}
		for _, l := range po.Levels {
			out = append(out, l.IndexBlockSize)
		}
		return out
	}
	if got := fmt.Sprint(sizes(DefaultOptions())); got != "[262144 262144 262144 262144 262144 262144 262144]" {
		t.Errorf("default index block sizes %s, want 256 KiB on every level", got)
	}
	user = &pebble.Options{}
	user.Levels[1].IndexBlockSize = 8 << 10
	o = DefaultOptions()
	WithPebbleOptions(user)(&o)
	if got := fmt.Sprint(sizes(o)); got != "[0 8192 0 0 0 0 0]" {
		t.Errorf("Pebble options with a level's IndexBlockSize: index block sizes %s, want theirs", got)
	}

	// Options through Pebble's EnsureDefaults set every level's filter
	// (none) and index block size (4 KiB): they keep them, as documented.
	user = &pebble.Options{}
	user.EnsureDefaults()
	o = DefaultOptions()
	WithPebbleOptions(user)(&o)
	want("Pebble options through EnsureDefaults", levels(o), "none", "none", "none", "none", "none", "none", "none")
	if got := fmt.Sprint(sizes(o)); got != "[4096 4096 4096 4096 4096 4096 4096]" {
		t.Errorf("Pebble options through EnsureDefaults: index block sizes %s, want Pebble's 4 KiB", got)
	}

	// Pebble's Open registers the levels' policies in Filters; the
	// caller's map must not receive them.
	user = &pebble.Options{Filters: map[string]pebble.FilterPolicy{}}
	s, err := Open(t.TempDir(), WithSync(false), WithPebbleOptions(user))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(user.Filters) != 0 {
		t.Errorf("Open added %d filter policies to the caller's Pebble options", len(user.Filters))
	}
}

// TestPointReadsUseFilters reads absent keys that fall inside a flushed
// L0 table's key range through every point-read path (Get, a View's Get,
// an Update's, an UpdateLatest's, UpdateKey) and checks that Pebble's
// filter counters say the table's bloom filter, not a search of its index
// and data blocks, answered nearly all of them; and that the keys present
// are still found.
func TestPointReadsUseFilters(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 200
	key := func(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }
	b := kv.NewBatch()
	for i := 0; i < n; i += 2 {
		if err := b.Set(key(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Flush(); err != nil {
		t.Fatal(err)
	}
	m := s.Metrics()
	if tables := m.Levels[0].TablesCount; tables != 1 {
		t.Fatalf("after one flush L0 has %d tables, want 1", tables)
	}
	absent := func(i int) []byte { return key(2*i + 1) } // between present keys
	const reads = n / 2
	paths := []struct {
		name string
		get  func(k []byte) (found bool, err error)
	}{
		{"Get", func(k []byte) (bool, error) { _, err := s.Get(ctx, k); return found(err) }},
		{"View", func(k []byte) (f bool, err error) {
			err = s.View(ctx, func(r kv.Reader) error { _, e := r.Get(ctx, k); f, e = found(e); return e })
			return f, err
		}},
		{"Update", func(k []byte) (f bool, err error) {
			err = s.Update(ctx, func(tx kv.Txn) error { _, e := tx.Get(ctx, k); f, e = found(e); return e })
			return f, err
		}},
		{"UpdateLatest", func(k []byte) (f bool, err error) {
			err = s.UpdateLatest(ctx, func(tx kv.Txn) error { _, e := tx.Get(ctx, k); f, e = found(e); return e })
			return f, err
		}},
		{"UpdateKey", func(k []byte) (f bool, err error) {
			err = s.UpdateKey(ctx, k, func(_ []byte, ok bool) ([]byte, bool, error) { f = ok; return nil, false, nil })
			return f, err
		}},
	}
	for _, p := range paths {
		before := s.Metrics().Filter
		for i := range reads {
			f, err := p.get(absent(i))
			if err != nil {
				t.Fatalf("%s %s: %v", p.name, absent(i), err)
			}
			if f {
				t.Fatalf("%s found the absent key %s", p.name, absent(i))
			}
		}
		after := s.Metrics().Filter
		// 10 bits per key let through about 1% of absent keys.
		if hits := after.Hits - before.Hits; hits < reads*9/10 {
			t.Errorf("%s of %d absent keys: %d filter hits (misses %d), want at least %d", p.name, reads, hits, after.Misses-before.Misses, reads*9/10)
		}
		for i := 0; i < n; i += 2 * 17 {
			if f, err := p.get(key(i)); err != nil || !f {
				t.Errorf("%s %s: found %v, %v; want found", p.name, key(i), f, err)
			}
		}
	}
}

func found(err error) (bool, error) {
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// TestViewGetMatchesGet compares a View's point read (a prefix seek on the
// view's anchor, and on a clone of it while an iterator holds the anchor)
// with the store's Get (pebble.DB.Get) on keys present, absent, deleted,
// overwritten, and keys that are prefixes or extensions of one another,
// spread over the memtable, an L0 table and the table below it; with
// Pebble's default comparer, whose Split makes the whole key the prefix,
// and with one whose Split makes a key's first two bytes its prefix, so
// that a prefix seek alone would land on other keys (the bounds must keep
// the read to the key).
func TestViewGetMatchesGet(t *testing.T) {
	short := *pebble.DefaultComparer
	short.Name = "protoql.test.two-byte-prefix"
	short.Split = func(k []byte) int { return min(len(k), 2) }
	for _, c := range []struct {
		name string
		po   *pebble.Options
	}{{"default comparer", nil}, {"two-byte prefix", &pebble.Options{Comparer: &short}}} {
		t.Run(c.name, func(t *testing.T) { testViewGetMatchesGet(t, c.po) })
	}
}

func testViewGetMatchesGet(t *testing.T, po *pebble.Options) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithSync(false), WithPebbleOptions(po))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var probes [][]byte
	write := func(round int) {
		t.Helper()
		b := kv.NewBatch()
		for i := range 300 {
			k := fmt.Appendf(nil, "k%03d", i%97*3)
			switch (i + round) % 5 {
			case 0:
				err = b.Delete(k)
			case 1:
				err = b.Set(append(k, 0), fmt.Appendf(nil, "z%d.%d", round, i))
			case 2:
				err = b.Set(k[:len(k)-1], fmt.Appendf(nil, "p%d.%d", round, i))
			default:
				err = b.Set(k, fmt.Appendf(nil, "v%d.%d", round, i))
			}
			if err != nil {
				t.Fatal(err)
			}
			probes = append(probes, k, append(bytes.Clone(k), 0), k[:len(k)-1], append(bytes.Clone(k), 1), fmt.Appendf(nil, "k%03d", i))
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	if err := s.DB().Compact(ctx, []byte("a"), []byte("z"), true); err != nil {
		t.Fatal(err)
	}
	write(1)
	if err := s.DB().Flush(); err != nil {
		t.Fatal(err)
	}
	write(2)
	var hits int
	err = s.View(ctx, func(r kv.Reader) error {
		for lent := range 2 {
			if lent == 1 { // the anchor lent: Get reads with a clone
				it, err := r.NewIter(ctx, kv.IterOptions{})
				if err != nil {
					return err
				}
				defer it.Close()
			}
			hits += viewGetsMatch(t, s, r, probes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if hits == 0 || hits == 2*len(probes) {
		t.Fatalf("%d of %d probes found: the probes do not mix present and absent keys", hits, 2*len(probes))
	}
}

// viewGetsMatch compares r's Get of each probe with s's and returns how
// many were found.
func viewGetsMatch(t *testing.T, s *Store, r kv.Reader, probes [][]byte) (hits int) {
	t.Helper()
	ctx := context.Background()
	for _, k := range probes {
		want, wantErr := s.Get(ctx, k)
		got, gotErr := r.Get(ctx, k)
		if (wantErr == nil) != (gotErr == nil) || !bytes.Equal(got, want) ||
			errors.Is(wantErr, kv.ErrNotFound) != errors.Is(gotErr, kv.ErrNotFound) {
			t.Errorf("%q: View's Get %q, %v; Get %q, %v", k, got, gotErr, want, wantErr)
		}
		if wantErr == nil {
			hits++
		}
	}
	return hits
}

// TestIndexBlockSize flushes a table whose index outgrows Pebble's 4 KiB
// default index block and checks its properties: a single-level index with
// the default IndexBlockSize, a partitioned (two-level) one with
// IndexBlockSize zero, which keeps Pebble's default.
func TestIndexBlockSize(t *testing.T) {
	ctx := context.Background()
	partitions := func(opts ...Option) uint64 {
		t.Helper()
		s, err := Open(t.TempDir(), append([]Option{WithSync(false)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b := kv.NewBatch()
		val := bytes.Repeat([]byte("v"), 100)
		for i := range 20000 { // some 2.5 MiB: 600 data blocks
			if err := b.Set(fmt.Appendf(nil, "key-of-some-length/%08d", i), val); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Flush(); err != nil {
			t.Fatal(err)
		}
		levels, err := s.DB().SSTables(pebble.WithProperties())
		if err != nil {
			t.Fatal(err)
		}
		var parts, tables uint64
		for _, l := range levels {
			for _, ti := range l {
				tables++
				parts += ti.Properties.IndexPartitions
				if ti.Properties.NumDataBlocks < 100 {
					t.Fatalf("a table of %d data blocks: too few for a two-level index", ti.Properties.NumDataBlocks)
				}
			}
		}
		if tables == 0 {
			t.Fatal("the flush wrote no table")
		}
		return parts
	}
	if p := partitions(); p != 0 {
		t.Errorf("default IndexBlockSize: %d index partitions, want a single-level index", p)
	}
	if p := partitions(WithIndexBlockSize(0)); p == 0 {
		t.Error("IndexBlockSize 0 (Pebble's 4 KiB): a single-level index, want a two-level one")
	}
}
