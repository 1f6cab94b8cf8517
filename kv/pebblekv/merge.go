package pebblekv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/fieldpatch"
)

// MergerName is the name of the merge operator of the stores pebblekv
// creates (package kv/fieldpatch's patches), which Pebble records in the
// store's OPTIONS file. A store created before it, by protoql v0.1.0, has
// Pebble's default ("pebble.concatenate"), and Pebble refuses to open a
// store with another merger than its own: Open opens such a store with
// the default merger, and MergeKey is then unavailable (CanMerge reports
// false; protoql's setters read-modify-write instead).
const MergerName = "protoql.fieldpatch.v1"

// fieldPatchMerger is the Pebble merge operator of MergerName.
var fieldPatchMerger = &pebble.Merger{
	Name: MergerName,
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		m := fieldpatch.NewMerger(value)
		if h := mergeHook.Load(); h != nil {
			return &countingMerger{Merger: m, key: bytes.Clone(key), hook: *h}, nil
		}
		return m, nil
	},
}

// mergeHook, when set (by tests), is called with the key and the number
// of values of every merge Pebble finishes.
var mergeHook atomic.Pointer[func(key []byte, n int)]

// countingMerger is a fieldpatch.Merger that reports its number of values
// to the test hook.
type countingMerger struct {
	*fieldpatch.Merger
	key  []byte
	n    int
	hook func([]byte, int)
}

func (c *countingMerger) MergeNewer(v []byte) error { c.n++; return c.Merger.MergeNewer(v) }
func (c *countingMerger) MergeOlder(v []byte) error { c.n++; return c.Merger.MergeOlder(v) }

func (c *countingMerger) Finish(includesBase bool) ([]byte, io.Closer, error) {
	c.hook(c.key, c.n+1)
	return c.Merger.Finish(includesBase)
}

// chooseMerger sets po.Merger for the store in dir, unless the caller's
// Pebble options chose one, and reports whether it is MergerName's: a new
// store gets fieldPatchMerger; an existing one keeps the merger its newest
// OPTIONS file names (Pebble's default for a store protoql v0.1.0
// created; any other name than these two is left for Pebble to refuse).
func chooseMerger(po *pebble.Options, dir string) bool {
	if po.Merger != nil {
		return po.Merger.Name == MergerName
	}
	fs := po.FS
	if fs == nil {
		fs = vfs.Default
	}
	name := storedMerger(fs, dir)
	if name == "" || name == MergerName || name == "nullptr" {
		po.Merger = fieldPatchMerger
		return true
	}
	po.Merger = pebble.DefaultMerger
	return false
}

// storedMerger returns the merger named by the newest OPTIONS file of the
// store in dir, or "" when there is none (a new store) or it cannot be
// read (Pebble's Open then reports what is wrong).
func storedMerger(fs vfs.FS, dir string) string {
	desc, err := pebble.Peek(dir, fs)
	if err != nil || desc.OptionsFilename == "" {
		return ""
	}
	f, err := fs.Open(desc.OptionsFilename)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	section := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if name, ok := strings.CutPrefix(line, "merger="); ok && section == "[Options]" {
			return strings.TrimSpace(name)
		}
	}
	return ""
}

// mergeEvery is how many merges of a key the store writes, at most, before
// it writes the key's merged value instead (a read-modify-write), so that
// a read merges a bounded number of patches (see mergeCounts). A range read
// pays for each pending patch (Pebble steps over it and the merger copies
// and parses it): a Get of a user whose 10 entries held 15 patches each
// took 2.4x the Get of plain entries, so 8, not 16.
const mergeEvery = 8

// mergeCounts bounds how many patches of one key a memtable holds. Pebble,
// unlike RocksDB (max_successive_merges), lets merge operands of a hot key
// pile up in the memtable until it is flushed (a flush merges them into
// one), and every read of the key merges all of them. So every
// mergeEvery-th merge of a key is made a read-modify-write, whose Set
// hides the patches before it from every later read.
//
// Counting every key exactly would take memory in proportion to the keys
// written; two fixed tables do instead. owned holds, per slot, the hash
// tag of one key and the merges of it since its last read-modify-write:
// a key that owns its slot is counted exactly. loose counts, per slot, the
// merges of keys not owning their owned slot since the last flush; once
// it reaches mergeEvery, every such merge is a read-modify-write, which
// makes its key the owner of its slot (with no patch pending). A key gets
// patches only while it owns its slot (fewer than mergeEvery) and while
// its loose slot is below mergeEvery (fewer than mergeEvery more), so a
// key has fewer than 2*mergeEvery patches in the memtable, plus those of
// merges running concurrently with it; a flush clears both tables
// (flushed patches are merged into one per key and snapshot), and the
// memtable being flushed may hold as many again until the flush ends.
// Collisions only make a read-modify-write come sooner.
type mergeCounts struct {
	seed  maphash.Seed
	owned [1 << 12]atomic.Uint64 // tag<<32 | merges since the owner's read-modify-write
	loose [1 << 16]atomic.Uint32
}

func newMergeCounts() *mergeCounts { return &mergeCounts{seed: maphash.MakeSeed()} }

// due counts a merge of key and reports whether it must be a
// read-modify-write.
func (c *mergeCounts) due(key []byte) bool {
	h := hashOf(c, key)
	tag := uint64(uint32(h>>32) | 1) // never 0, an empty slot's
	o := &c.owned[h%uint64(len(c.owned))]
	for {
		cur := o.Load()
		if cur>>32 != tag {
			break
		}
		n := cur&(1<<32-1) + 1
		if n >= mergeEvery {
			n = 0 // the read-modify-write leaves no patch
		}
		if o.CompareAndSwap(cur, tag<<32|n) {
			return n == 0
		}
	}
	if c.loose[(h>>12)%uint64(len(c.loose))].Add(1) < mergeEvery {
		return false
	}
	o.Store(tag << 32)
	return true
}

// hashOf is key's hash, which picks its slots.
func hashOf(c *mergeCounts, key []byte) uint64 { return maphash.Bytes(c.seed, key) }

// reset forgets every count: the memtables hold no patches any more.
func (c *mergeCounts) reset() {
	for i := range c.owned {
		c.owned[i].Store(0)
	}
	for i := range c.loose {
		c.loose[i].Store(0)
	}
}

// flushListener returns el with FlushEnd also resetting counts (which
// Open sets once the store exists).
func flushListener(el *pebble.EventListener, counts *atomic.Pointer[mergeCounts]) *pebble.EventListener {
	l := *el
	prev := l.FlushEnd
	l.FlushEnd = func(info pebble.FlushInfo) {
		if c := counts.Load(); c != nil && info.Err == nil {
			c.reset()
		}
		if prev != nil {
			prev(info)
		}
	}
	return &l
}

// CanMerge implements kv.KeyMerger: whether the store's merge operator is
// MergerName's (see MergerName).
func (s *Store) CanMerge() bool { return s.merges.Load() != nil }

// MergeKey implements kv.KeyMerger: a blind write of a Pebble merge
// operand, logged with key as its write set as SetKey's write is, except
// for every mergeEvery-th merge of a key (see mergeCounts), which reads
// the key and writes the merged value, retried as UpdateKey is. On a store
// that cannot merge (CanMerge false), it fails with an error wrapping
// errors.ErrUnsupported and writes nothing.
func (s *Store) MergeKey(ctx context.Context, key, patch []byte) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblekv: apply: %w", err)
	}
	if len(key) == 0 {
		return fmt.Errorf("pebblekv: apply: %w: empty key", kv.ErrInvalid)
	}
	counts := s.merges.Load()
	if counts == nil {
		return fmt.Errorf("pebblekv: merge: %w: the store's merge operator is not %s (a store created by protoql v0.1.0)", errors.ErrUnsupported, MergerName)
	}
	if err := fieldpatch.Check(patch); err != nil {
		return fmt.Errorf("pebblekv: apply: %w: %w", kv.ErrInvalid, err)
	}
	if counts.due(key) {
		var buf []byte
		return s.write.updateKey(ctx, key, func(val []byte, found bool) ([]byte, bool, error) {
			if found {
				buf = fieldpatch.Merge(buf[:0], val, patch)
			} else {
				buf = fieldpatch.Value(buf[:0], patch)
			}
			return buf, true, nil
		})
	}
	if err := s.write.setKey(key, patch, opMerge); err != nil {
		return fmt.Errorf("pebblekv: apply: %w", err)
	}
	return nil
}
