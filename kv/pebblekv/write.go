package pebblekv

import (
	"context"
	"errors"
	"fmt"
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
	// commitOpts is used under the commit lock. syncAfter says to wait for
	// durability after releasing it, with a synced empty WAL record.
	commitOpts *pebble.WriteOptions
	syncAfter  bool
	// wholeKeyPrefix says the comparer's Split takes the whole key as its
	// prefix (Pebble's default; not an MVCC comparer), so that NextPrefix
	// steps to the next key (see deleteRange).
	wholeKeyPrefix bool
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
// transaction registered as reg first (both nil for a blind Apply), and
// returns once they are as durable as the options ask. ws gives the write
// set for the commit log. A batch without DeleteRange is built before
// taking the commit lock; one with DeleteRange is built under it, because
// a small range is deleted by reading its keys (see deleteRange).
func (w *writer) apply(reg *occ.Reg, rs *occ.ReadSet, ws func() *occ.WriteSet, ops []kv.Op, size int) error {
	var b *pebble.Batch
	if !hasDeleteRange(ops) {
		b = w.db.NewBatchWithSize(size)
		defer b.Close()
		if err := addOps(b, ops, w.wholeKeyPrefix); err != nil {
			return err
		}
	}
	err := w.occ.Commit(reg, rs, ws, func() error {
		if b == nil {
			b = w.db.NewIndexedBatchWithSize(size)
			if err := addOps(b, ops, w.wholeKeyPrefix); err != nil {
				b.Close()
				return err
			}
			defer b.Close()
		}
		return b.Commit(w.commitOpts)
	})
	if err != nil {
		return err
	}
	return w.sync()
}

func hasDeleteRange(ops []kv.Op) bool {
	for _, op := range ops {
		if op.Kind == kv.OpDeleteRange {
			return true
		}
	}
	return false
}

// addOps records ops in b; b must be indexed if ops contain a DeleteRange,
// and then the commit lock must be held. wholeKeyPrefix is the writer's.
func addOps(b *pebble.Batch, ops []kv.Op, wholeKeyPrefix bool) error {
	for _, op := range ops {
		var err error
		switch op.Kind {
		case kv.OpSet:
			err = b.Set(op.Key, op.Value, nil)
		case kv.OpDelete:
			err = b.Delete(op.Key, nil)
		case kv.OpDeleteRange:
			err = deleteRange(b, op.Key, op.Value, wholeKeyPrefix)
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

// deleteRange records the deletion of [start, end) in the indexed batch b:
// point deletions of the keys b sees in the range when there are at most
// pointDeleteLimit, a range tombstone otherwise. The commit lock must be
// held, so that no key can appear in the range before b commits.
// wholeKeyPrefix says NextPrefix steps to the next key (see writer).
func deleteRange(b *pebble.Batch, start, end []byte, wholeKeyPrefix bool) error {
	if string(start) == string(end) {
		return nil // empty
	}
	if len(start) == 0 {
		start = nil // Pebble's invariant checks (on under -race) index an empty non-nil key
	}
	it, err := b.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	keys := keysIn(it, wholeKeyPrefix)
	if err := it.Close(); err != nil {
		return err
	}
	if len(keys) > pointDeleteLimit {
		return b.DeleteRange(start, end, nil)
	}
	for _, k := range keys {
		if err := b.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// keysIn returns copies of the first pointDeleteLimit+1 keys of it (all
// of them if fewer). NextPrefix, when the comparer's prefix is the whole key
// (wholeKeyPrefix), steps to the next key without walking the shadowed
// versions and deletions of this one still in the memtable, which Next
// does: a key rewritten many times since the last flush would make every
// Put of it linear in its rewrites.
func keysIn(it *pebble.Iterator, wholeKeyPrefix bool) [][]byte {
	next := (*pebble.Iterator).Next
	if wholeKeyPrefix {
		next = (*pebble.Iterator).NextPrefix
	}
	var keys [][]byte
	for ok := it.First(); ok && len(keys) <= pointDeleteLimit; ok = next(it) {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	return keys
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
// package doc).
func (w *writer) update(ctx context.Context, fn func(kv.Txn) error) error {
	return occ.Update(ctx, "pebblekv", func() error { return w.attempt(fn) })
}

// attempt runs fn once on a snapshot and commits its writes if what it
// read is unchanged.
func (w *writer) attempt(fn func(kv.Txn) error) error {
	var snap *pebble.Snapshot
	reg := w.occ.Begin(func() { snap = w.db.NewSnapshot() })
	defer func() {
		w.occ.End(reg)
		_ = snap.Close()
	}()
	sc := &view{scope{r: snap}}
	defer sc.end() // after tx.End: it closes the iterators on snap
	tx := occ.NewTxn(w.occ, reg, sc, errTxnEnded)
	defer tx.End() // also when fn panics
	if err := fn(tx); err != nil {
		return err
	}
	tx.End()
	if tx.Empty() {
		return nil // a read-only transaction read one committed state
	}
	ops := tx.Ops()
	size := 0
	for _, op := range ops {
		size += len(op.Key) + len(op.Value) + 16
	}
	if err := w.apply(reg, tx.Reads(), tx.WriteSet, ops, size); err != nil {
		if occ.IsConflict(err) || errors.Is(err, kv.ErrExpired) {
			return err
		}
		return fmt.Errorf("pebblekv: update: commit: %w", err)
	}
	return nil
}
