package pebblekv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"strings"
	"sync"
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
// The counts are exact: each key merged since the last flush has its own
// count of merges since its last read-modify-write, in shards by the
// key's hash. A flush clears them (flushed patches are merged into one per key
// and snapshot), so a key has fewer than mergeEvery patches in the
// memtable, plus those of merges running concurrently with it, and the
// memtable being flushed may hold as many again until the flush ends.
// The counts hold at most as many bytes of keys (each counted with
// countOverhead bytes for its slot) as the memtables
// may hold (countRoom): every key counted since the last flush has a
// merge record of about as many bytes (key, patch, trailer and skiplist
// node) in a memtable, so the counts fill about when the memtables do, and
// their memory is bounded by theirs. A merge of a key not counted when the
// counts are full is a read-modify-write, so the bound holds whatever the
// sizes. Counting in
// fixed tables of slots instead, which several keys share, made most merges of a store
// with many keys read-modify-writes long before a flush (every key of a
// slot counted under the others' merges).
//
// A shard keeps its keys' bytes back to back in one arena and finds them
// by open addressing over their hashes (each slot compared with the key
// itself, so no two keys share a count), rather than in a Go map: a map
// from strings allocated each key first merged after a flush and held a
// pointer per key for the garbage collector to scan, and its insertions of
// fresh keys cost 0.7-1.6 us a merge (BenchmarkMergeCountsDue/fresh); the
// arena and the slots hold no pointers, and a flush empties them by
// starting a new generation of slots instead of clearing them.
type mergeCounts struct {
	seed   maphash.Seed
	room   int // per shard, in bytes
	shards [mergeShards]countShard
}

const mergeShards = 16

// countRoom is the most memory mergeCounts holds for the keys it counts
// between two flushes: what the memtables of po may hold together
// (MemTableStopWritesThreshold memtables of MemTableSize, Pebble's
// defaults when zero), or testCountRoom when a test set it.
func countRoom(po *pebble.Options) int {
	if testCountRoom > 0 {
		return testCountRoom
	}
	size, n := po.MemTableSize, po.MemTableStopWritesThreshold
	if size == 0 {
		size = 4 << 20
	}
	if n <= 0 {
		n = 2
	}
	return int(min(size*uint64(n), math.MaxInt32)) // an int on every platform
}

// testCountRoom, when above zero, is every new store's countRoom (tests).
var testCountRoom int

// countOverhead is the room a counted key takes besides its bytes: at
// most 16 bytes of slot per 3/8 of a slot in use (the table doubles when
// 3/4 are), 43 bytes, rounded up. So a shard's slots never take more than
// its room (or the first table's minSlots*16 = 256 bytes, when the room
// is smaller), nor its arena (see countShard.add): a full shard holds
// less than twice its room (plus those 256 bytes).
const countOverhead = 48

// countShard is one shard of mergeCounts: the keys counted since the last
// flush, their bytes in arena, found through slots by open addressing
// (linear probing; a power of two of them, or none). A slot is in use if
// its generation is gen: reset starts a new generation.
type countShard struct {
	mu    sync.Mutex
	arena []byte
	slots []countSlot
	used  int      // slots in use
	gen   uint32   // from 1 to genMask; 0 marks a slot never used
	bytes int      // the keys' bytes, each with countOverhead
	_     [64]byte // keeps shards' locks on separate cache lines
}

// countSlot is one counted key: its bytes arena[off:off+n], the high half
// of its hash, and tag, its shard's generation when it was counted
// (shifted left by genShift) with its count of merges since its last
// read-modify-write (below mergeEvery) in the low bits.
type countSlot struct {
	hash uint32
	off  uint32
	n    uint32
	tag  uint32
}

const (
	genShift = 3 // mergeEvery-1 fits in the low genShift bits
	genMask  = 1<<(32-genShift) - 1
	minSlots = 16
)

func newMergeCounts(room int) *mergeCounts {
	c := &mergeCounts{seed: maphash.MakeSeed(), room: room / mergeShards}
	for i := range c.shards {
		c.shards[i].gen = 1
	}
	return c
}

// due counts a merge of key and reports whether it must be a
// read-modify-write.
func (c *mergeCounts) due(key []byte) bool {
	h := maphash.Bytes(c.seed, key)
	sh := &c.shards[h%mergeShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.count(key, uint32(h>>32), c.room)
}

// count is due on the shard, locked; hi is the high half of key's hash.
func (sh *countShard) count(key []byte, hi uint32, room int) bool {
	gen := sh.gen << genShift
	if len(sh.slots) > 0 {
		mask := uint32(len(sh.slots) - 1)
		for i := hi & mask; ; i = (i + 1) & mask {
			s := &sh.slots[i]
			if s.tag&^(1<<genShift-1) != gen {
				break // a free slot: key is not counted
			}
			if s.hash != hi || string(sh.arena[s.off:s.off+s.n]) != string(key) {
				continue
			}
			n := s.tag&(1<<genShift-1) + 1
			if n < mergeEvery {
				s.tag = gen | n
				return false
			}
			s.tag = gen // the read-modify-write leaves no patch
			return true
		}
	}
	if sh.bytes+len(key)+countOverhead > room {
		return true // not counted: no patch
	}
	sh.add(key, hi, room)
	return false
}

// add counts key's first merge; the room is there for it.
func (sh *countShard) add(key []byte, hi uint32, room int) {
	sh.bytes += len(key) + countOverhead
	if (sh.used+1)*4 > len(sh.slots)*3 {
		sh.grow()
	}
	if len(sh.arena)+len(key) > cap(sh.arena) {
		// Doubling, but never past the room: the keys' bytes fit in it.
		a := make([]byte, len(sh.arena), min(max(2*cap(sh.arena), len(sh.arena)+len(key), 4096), room))
		copy(a, sh.arena)
		sh.arena = a
	}
	off := len(sh.arena)
	sh.arena = append(sh.arena, key...)
	mask := uint32(len(sh.slots) - 1)
	gen := sh.gen << genShift
	i := hi & mask
	for sh.slots[i].tag&^(1<<genShift-1) == gen {
		i = (i + 1) & mask
	}
	sh.slots[i] = countSlot{hash: hi, off: uint32(off), n: uint32(len(key)), tag: gen | 1}
	sh.used++
}

// grow doubles the slots (minSlots at first), moving those in use.
func (sh *countShard) grow() {
	old := sh.slots
	sh.slots = make([]countSlot, max(minSlots, 2*len(old)))
	mask := uint32(len(sh.slots) - 1)
	gen := sh.gen << genShift
	for _, s := range old {
		if s.tag&^(1<<genShift-1) != gen {
			continue
		}
		i := s.hash & mask
		for sh.slots[i].tag&^(1<<genShift-1) == gen {
			i = (i + 1) & mask
		}
		sh.slots[i] = s
	}
}

// reset forgets every count: the memtables hold no patches any more.
func (c *mergeCounts) reset() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		if sh.gen > genMask { // wrapped: slots of generation 1 may be left
			clear(sh.slots)
			sh.gen = 1
		}
		sh.arena = sh.arena[:0]
		sh.used = 0
		sh.bytes = 0
		sh.mu.Unlock()
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
	if err := s.enterKey(ctx, key); err != nil {
		return err
	}
	defer s.g.Exit()
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
