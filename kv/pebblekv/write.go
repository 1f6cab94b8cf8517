package pebblekv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/internal/occ"
)

// writer commits Apply's and Update's batches through the optimistic
// concurrency control (package occ), grouping fsyncs when it can (see the
// package doc).
type writer struct {
	db  *pebble.DB
	occ *occ.Manager
	// commitOpts commits a group. syncAfter says to wait for durability
	// after the group's commit, with a synced empty WAL record.
	commitOpts *pebble.WriteOptions
	syncAfter  bool
	// wholeKeyPrefix says the comparer's Split takes the whole key as its
	// prefix (Pebble's default; not an MVCC comparer), so that NextPrefix
	// steps to the next key (see deleteRange).
	wholeKeyPrefix bool
	// keyItems pools setKey's commit items, each keeping the Pebble batch
	// of its last commit (of this writer's database), reset: one pool for
	// the item and its batch where taking each from its own pool (itemPool,
	// Pebble's) costs two.
	keyItems sync.Pool
}

func (w *writer) init(db *pebble.DB, cmp *pebble.Comparer, sync, groupCommit bool, maxTxnLifetime time.Duration) {
	w.db = db
	probe := []byte("pebblekv\x00probe")
	w.wholeKeyPrefix = cmp == nil || cmp.Split == nil || cmp.Split(probe) == len(probe)
	w.occ = occ.NewManager("pebblekv", maxTxnLifetime)
	switch {
	case !sync:
		w.commitOpts = pebble.NoSync
	case groupCommit:
		w.commitOpts, w.syncAfter = pebble.NoSync, true
	default:
		w.commitOpts = pebble.Sync
	}
}

// apply commits ops atomically, validating the read set rs of the
// transaction tx registered as reg first (all three nil for a blind Apply),
// and returns once they are as durable as the options ask. The commit lock
// covers only the validation and sequencing; the batch is committed after
// it is released, together with the commits sequenced meanwhile
// (occ.Manager.CommitGrouped, applyGroup). A batch without DeleteRange is
// built before taking the commit lock; one with DeleteRange is built by
// applyGroup, because a small range is deleted by reading its keys (see
// deleteRange).
func (w *writer) apply(reg *occ.Reg, rs *occ.ReadSet, tx *occ.Txn, ops []kv.Op, size int) error {
	it := itemPool.Get().(*commitItem)
	defer func() {
		if it.b != nil {
			_ = it.b.Close()
		}
		*it = commitItem{}
		itemPool.Put(it)
	}()
	it.tx, it.ops, it.size = tx, ops, size
	if hasDeleteRange(ops) {
		if err := checkOps(ops); err != nil {
			return err
		}
	} else {
		it.b = w.db.NewBatchWithSize(size)
		if err := addOps(it.b, nil, ops, w.wholeKeyPrefix); err != nil {
			return err
		}
	}
	if err := w.occ.CommitGrouped(reg, rs, it, w.applyGroup); err != nil {
		return err
	}
	return w.sync()
}

// commitItem is one commit waiting in occ's queue: its batch, or, when its
// operations include a DeleteRange, the operations for applyGroup to build.
type commitItem struct {
	b    *pebble.Batch
	ops  []kv.Op
	tx   *occ.Txn // nil for Apply
	size int
	// key is the one key written by UpdateKey (tx and ops nil), and rs
	// its read set: that key.
	key []byte
	rs  occ.ReadSet
	reg occ.Reg
}

var itemPool = sync.Pool{New: func() any { return new(commitItem) }}

// releaseKey returns an item of setKey to w.keyItems. It zeroes the
// fields setKey sets (key, size), which leaves the item zero but for its
// batch, as every item in that pool is: cheaper than zeroing the whole
// item (≈ 200 bytes, with the write barrier checks of its pointers) on
// every single-key write. The batch is kept, reset, when its commit
// succeeded (Reset drops a buffer larger than Pebble's own pool keeps, and
// one the commit pipeline may still read); otherwise (an error, or a
// panic in the commit) closed and dropped, as Pebble reuses no batch that
// met an error.
func (w *writer) releaseKey(it *commitItem, committed bool) {
	if b := it.b; b != nil {
		if committed {
			b.Reset()
		} else {
			_ = b.Close()
			it.b = nil
		}
	}
	it.key, it.size = nil, 0
	w.keyItems.Put(it)
}

func (it *commitItem) Size() int { return it.size }

func (it *commitItem) WriteSet() *occ.WriteSet {
	if it.tx != nil {
		return it.tx.WriteSet()
	}
	if it.key != nil {
		return &occ.WriteSet{Points: [][]byte{bytes.Clone(it.key)}}
	}
	return occ.BatchWriteSet(it.ops)
}

// applyGroup commits a group of commits, in order, as one Pebble batch: one
// WAL record and one memtable insertion for all of them. A commit with a
// DeleteRange is built into the group's batch, indexed then, so that its
// reads of the range see every commit before it: the earlier groups (in
// the database, as groups are applied one at a time) and the earlier
// commits of this one (in the batch).
func (w *writer) applyGroup(group []occ.Item) error {
	if len(group) == 1 {
		if it := group[0].(*commitItem); it.b != nil {
			return it.b.Commit(w.commitOpts)
		}
	}
	indexed, size := needsIndex(group), 0
	for _, g := range group {
		size += g.(*commitItem).size
	}
	var acc *pebble.Batch
	var r iterReader = w.db // no Set of the group precedes a DeleteRange
	if indexed {
		acc = w.db.NewIndexedBatchWithSize(size)
		r = acc
	} else {
		acc = w.db.NewBatchWithSize(size)
	}
	defer acc.Close()
	for _, g := range group {
		it := g.(*commitItem)
		var err error
		if it.b != nil {
			err = acc.Apply(it.b, nil)
		} else {
			err = addOps(acc, r, it.ops, w.wholeKeyPrefix)
		}
		if err != nil {
			return err
		}
	}
	return acc.Commit(w.commitOpts)
}

// needsIndex reports whether a DeleteRange of the group comes after a Set
// of the group, so that the keys it deletes must be read from an indexed
// batch of the group, which holds that Set. Otherwise each range is read
// from the database, which holds every earlier group: the keys the group
// deleted before are deleted again, which changes nothing, and reading the
// database directly saves indexing every key of the group (a Put of an
// object deletes its range first, then sets its keys).
func needsIndex(group []occ.Item) bool {
	set := false
	for _, g := range group {
		it := g.(*commitItem)
		if it.b != nil {
			set = set || it.b.Count() > 0
			continue
		}
		for _, op := range it.ops {
			switch op.Kind {
			case kv.OpDeleteRange:
				if set {
					return true
				}
			case kv.OpSet:
				set = true
			}
		}
	}
	return false
}

// iterReader is what deleteRange reads a range's keys from: the database,
// or the group's indexed batch.
type iterReader interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// checkOps reports an operation addOps would refuse, before the commit is
// sequenced (a group fails as a whole).
func checkOps(ops []kv.Op) error {
	for _, op := range ops {
		switch op.Kind {
		case kv.OpSet, kv.OpDelete, kv.OpDeleteRange:
		default:
			return fmt.Errorf("%w: unknown batch operation %v", kv.ErrInvalid, op.Kind)
		}
	}
	return nil
}

func hasDeleteRange(ops []kv.Op) bool {
	for _, op := range ops {
		if op.Kind == kv.OpDeleteRange {
			return true
		}
	}
	return false
}

// addOps records ops in b, reading the keys a DeleteRange deletes from r:
// applyGroup's indexed batch b, or the database when no Set of the group
// precedes the range (needsIndex); r may be nil if ops hold no DeleteRange.
// wholeKeyPrefix is the writer's.
func addOps(b *pebble.Batch, r iterReader, ops []kv.Op, wholeKeyPrefix bool) error {
	for _, op := range ops {
		var err error
		switch op.Kind {
		case kv.OpSet:
			err = b.Set(op.Key, op.Value, nil)
		case kv.OpDelete:
			err = b.Delete(op.Key, nil)
		case kv.OpDeleteRange:
			err = deleteRange(b, r, op.Key, op.Value, wholeKeyPrefix)
		default:
			err = fmt.Errorf("%w: unknown batch operation %v", kv.ErrInvalid, op.Kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pointDeleteLimit is the most keys a DeleteRange deletes one by one instead
// of writing a range tombstone. Every range tombstone in a memtable makes
// each new iterator re-fragment all of the memtable's tombstones until it is
// flushed, so the many small range deletions protoql makes (a Put replaces an
// object's key range) would otherwise slow every read down as the memtable
// fills. CockroachDB uses the same heuristic and the same limit.
const pointDeleteLimit = 64

// deleteRange records the deletion of [start, end) in the batch b: point
// deletions of the keys r holds in the range when there are at most
// pointDeleteLimit, a range tombstone otherwise. b must be applyGroup's
// batch, so that no key can appear in the range before b commits, and r
// b itself (indexed) or the database (see addOps). wholeKeyPrefix says
// NextPrefix steps to the next key (see writer).
func deleteRange(b *pebble.Batch, r iterReader, start, end []byte, wholeKeyPrefix bool) error {
	if string(start) == string(end) {
		return nil // empty
	}
	if len(start) == 0 {
		start = nil // Pebble's invariant checks (on under -race) index an empty non-nil key
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	keys := rangeKeysPool.Get().(*rangeKeys)
	defer keys.release()
	keys.list(it, wholeKeyPrefix)
	if err := it.Close(); err != nil {
		return err
	}
	if keys.len() > pointDeleteLimit {
		return b.DeleteRange(start, end, nil)
	}
	for i := range keys.len() {
		if err := b.Delete(keys.key(i), nil); err != nil { // b copies the key
			return err
		}
	}
	return nil
}

// rangeKeys holds the keys deleteRange lists, copied back to back into
// one buffer: listing a range's keys makes no allocation per key, and
// none at all once the pooled buffers have grown.
type rangeKeys struct {
	buf  []byte
	ends []int // where each key ends in buf
}

var rangeKeysPool = sync.Pool{New: func() any { return new(rangeKeys) }}

// maxPooledKeys is the most bytes of keys a pooled rangeKeys keeps.
const maxPooledKeys = 16 << 10

func (r *rangeKeys) len() int { return len(r.ends) }

// key returns the i-th key listed, valid until r is listed again or
// released.
func (r *rangeKeys) key(i int) []byte {
	from := 0
	if i > 0 {
		from = r.ends[i-1]
	}
	return r.buf[from:r.ends[i]:r.ends[i]]
}

// release empties r and returns it to the pool, unless its buffer grew
// large.
func (r *rangeKeys) release() {
	if cap(r.buf) > maxPooledKeys {
		return
	}
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	rangeKeysPool.Put(r)
}

// list replaces r's keys with copies of the first pointDeleteLimit+1 keys
// of it (all of them if fewer). NextPrefix, when the comparer's prefix is
// the whole key (wholeKeyPrefix), steps to the next key without walking
// the shadowed versions and deletions of this one still in the memtable,
// which Next does: a key rewritten many times since the last flush would
// make every Put of it linear in its rewrites.
func (r *rangeKeys) list(it *pebble.Iterator, wholeKeyPrefix bool) {
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	next := (*pebble.Iterator).Next
	if wholeKeyPrefix {
		next = (*pebble.Iterator).NextPrefix
	}
	for ok := it.First(); ok && len(r.ends) <= pointDeleteLimit; ok = next(it) {
		r.buf = append(r.buf, it.Key()...)
		r.ends = append(r.ends, len(r.buf))
	}
}

// sync waits until every commit made so far is durable, when commits do not
// sync by themselves.
func (w *writer) sync() error {
	if !w.syncAfter {
		return nil
	}
	return w.db.LogData(nil, pebble.Sync)
}

// update runs fn in optimistic transactions until one commits (see the
// package doc). latest says each read sees the newest state instead of one
// snapshot (kv.LatestUpdater).
func (w *writer) update(ctx context.Context, fn func(kv.Txn) error, latest bool) error {
	return occ.Update(ctx, "pebblekv", func() error { return w.attempt(fn, latest) })
}

// attempt runs fn once, on a snapshot or (latest) on the database itself,
// and commits its writes if what it read is unchanged.
func (w *writer) attempt(fn func(kv.Txn) error, latest bool) error {
	var snap *pebble.Snapshot
	var r reader = w.db
	var take func()
	if !latest {
		take = func() { snap = w.db.NewSnapshot() }
	}
	reg := w.occ.Begin(take)
	defer func() {
		w.occ.End(reg)
		if snap != nil {
			_ = snap.Close()
		}
	}()
	if snap != nil {
		r = snap
	}
	sc := &view{scope{r: r}}
	defer sc.end() // after tx.End: it closes the iterators on snap
	tx := occ.NewTxn(w.occ, reg, sc, errTxnEnded)
	defer tx.Drop() // the log may keep its write set, and so the Txn
	defer tx.End()  // also when fn panics
	if err := fn(tx); err != nil {
		if latest && !occ.IsConflict(err) {
			// fn's reads may have seen different states: its error
			// stands only if they all saw the one it started from.
			tx.End()
			if verr := w.occ.Validate(reg, tx.Reads()); verr != nil {
				return verr
			}
		}
		return err
	}
	tx.End()
	if tx.Empty() {
		if latest {
			// A read-only transaction on the newest state read one
			// state only if nothing it read changed meanwhile.
			return w.occ.Validate(reg, tx.Reads())
		}
		return nil // a read-only transaction read one committed state
	}
	ops := tx.Ops()
	size := 0
	for _, op := range ops {
		size += len(op.Key) + len(op.Value) + 16
	}
	if err := w.apply(reg, tx.Reads(), tx, ops, size); err != nil {
		if occ.IsConflict(err) || errors.Is(err, kv.ErrExpired) {
			return err
		}
		return fmt.Errorf("pebblekv: update: commit: %w", err)
	}
	return nil
}

// updateKey runs fn on the newest value of key until its write commits
// (kv.KeyUpdater): the transaction of attempt, reduced to one point read
// and one write, so without the write buffer, the read set's copy and the
// Txn.
func (w *writer) updateKey(ctx context.Context, key []byte, fn func([]byte, bool) ([]byte, bool, error)) error {
	return occ.Update(ctx, "pebblekv", func() error { return w.attemptKey(key, fn) })
}

// attemptKey reads key, runs fn once and commits its write if no commit
// wrote key since the read. Registered before the read (occ.Begin with
// no snapshot, as UpdateLatest's transactions are), the read sees at
// least the commits up to the registration's sequence number, and every
// commit it may see beyond them is logged after it, so validating the
// one key read against the log finds any write of key that the read
// could have missed or seen in flight (a needless retry at worst). fn's
// error needs no validation: one read is one committed state.
func (w *writer) attemptKey(key []byte, fn func([]byte, bool) ([]byte, bool, error)) error {
	it := itemPool.Get().(*commitItem)
	defer func() {
		if it.b != nil {
			_ = it.b.Close()
		}
		*it = commitItem{}
		itemPool.Put(it)
	}()
	reg := &it.reg
	w.occ.BeginReg(reg, nil)
	defer w.occ.End(reg) // before it is pooled again; free once the commit unregistered reg
	v, closer, err := w.db.Get(key)
	found := err == nil
	if err != nil && err != pebble.ErrNotFound {
		return fmt.Errorf("pebblekv: update %s: %w", kv.KeyText(key), wrapCorrupt(err))
	}
	if found {
		defer closer.Close() // v is valid until then
	}
	out, write, err := fn(v, found)
	if err != nil || !write {
		return err
	}
	it.key, it.size = key, len(key)+len(out)+16
	it.b = w.db.NewBatchWithSize(it.size)
	if err := it.b.Set(key, out, nil); err != nil { // copies out, which may alias v
		return fmt.Errorf("pebblekv: update: %w", err)
	}
	it.rs.OnlyPoint(key)
	if err := w.occ.CommitGrouped(reg, &it.rs, it, w.applyGroup); err != nil {
		if occ.IsConflict(err) || errors.Is(err, kv.ErrExpired) {
			return err
		}
		return fmt.Errorf("pebblekv: update: commit: %w", err)
	}
	return w.sync()
}

// keyOp is the one operation of setKey.
type keyOp uint8

const (
	opSet keyOp = iota
	opDelete
	opMerge // value is a fieldpatch patch (kv.KeyMerger)
)

// setKey commits the one write of key (kv.KeySetter, kv.KeyMerger): value,
// its deletion, or value merged (op). It is apply for a one-operation batch, without
// the kv.Batch and its operation slice: the Pebble batch is built straight
// from key and value, and the commit item names the key, whose point write
// set it gives the log (WriteSet), so that a transaction that read key
// conflicts with it as with Apply's.
func (w *writer) setKey(key, value []byte, op keyOp) (err error) {
	it, _ := w.keyItems.Get().(*commitItem)
	if it == nil {
		it = new(commitItem)
	}
	// committed is set once the commit returned no error: not on an
	// error, nor on a panic (err is then nil), whose batch is closed.
	committed := false
	defer func() { w.releaseKey(it, committed) }()
	it.key, it.size = key, len(key)+len(value)+16
	if it.b == nil {
		it.b = w.db.NewBatchWithSize(it.size)
	}
	switch op {
	case opDelete:
		err = it.b.Delete(key, nil)
	case opMerge:
		err = it.b.Merge(key, value, nil)
	default:
		err = it.b.Set(key, value, nil)
	}
	if err != nil {
		return err
	}
	if err := w.occ.CommitGrouped(nil, nil, it, w.applyGroup); err != nil {
		return err
	}
	committed = true
	return w.sync()
}
