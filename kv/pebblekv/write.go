package pebblekv

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
)

// writer serializes Apply and Update and commits their batches, grouping
// fsyncs when it can (see the package doc).
type writer struct {
	db    *pebble.DB
	token chan struct{} // the writer lock; a channel so waiting honours ctx
	// commitOpts is used under the lock. syncAfter says to wait for
	// durability after releasing it, with a synced empty WAL record.
	commitOpts *pebble.WriteOptions
	syncAfter  bool
}

func (w *writer) init(db *pebble.DB, sync, groupCommit bool) {
	w.db = db
	w.token = make(chan struct{}, 1)
	switch {
	case !sync:
		w.commitOpts = pebble.NoSync
	case groupCommit:
		w.commitOpts, w.syncAfter = pebble.NoSync, true
	default:
		w.commitOpts = pebble.Sync
	}
}

func (w *writer) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case w.token <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *writer) unlock() { <-w.token }

// apply commits ops atomically and returns once they are as durable as the
// options ask. A batch without DeleteRange is built before taking the writer
// lock; one with DeleteRange is built under it, because a small range is
// deleted by reading its keys (see deleteRange).
func (w *writer) apply(ctx context.Context, ops []kv.Op, size int) error {
	var b *pebble.Batch
	if !hasDeleteRange(ops) {
		b = w.db.NewBatchWithSize(size)
		defer b.Close()
		if err := addOps(b, ops); err != nil {
			return err
		}
	}
	if err := w.lock(ctx); err != nil {
		return err
	}
	if b == nil {
		b = w.db.NewIndexedBatchWithSize(size)
		defer b.Close()
		if err := addOps(b, ops); err != nil {
			w.unlock()
			return err
		}
	}
	err := b.Commit(w.commitOpts)
	w.unlock()
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
// and then the writer lock must be held.
func addOps(b *pebble.Batch, ops []kv.Op) error {
	for _, op := range ops {
		var err error
		switch op.Kind {
		case kv.OpSet:
			err = b.Set(op.Key, op.Value, nil)
		case kv.OpDelete:
			err = b.Delete(op.Key, nil)
		case kv.OpDeleteRange:
			err = deleteRange(b, op.Key, op.Value)
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
// pointDeleteLimit, a range tombstone otherwise. The writer lock must be held,
// so that no key can appear in the range before b commits.
func deleteRange(b *pebble.Batch, start, end []byte) error {
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
	var keys [][]byte
	for ok := it.First(); ok && len(keys) <= pointDeleteLimit; ok = it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
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

// sync waits until every commit made so far is durable, when commits do not
// sync by themselves.
func (w *writer) sync() error {
	if !w.syncAfter {
		return nil
	}
	return w.db.LogData(nil, pebble.Sync)
}

// update runs fn on an indexed batch while holding the writer lock, so that
// nothing commits between fn's reads and its commit.
func (w *writer) update(ctx context.Context, fn func(kv.Txn) error) error {
	if err := w.lock(ctx); err != nil {
		return fmt.Errorf("pebblekv: update: %w", err)
	}
	locked := true
	defer func() {
		if locked { // fn failed or panicked
			w.unlock()
		}
	}()
	b := w.db.NewIndexedBatch()
	defer b.Close()
	tx := &txn{scope: scope{r: b}, b: b}
	defer tx.end() // before b.Close: it closes the iterators on b
	if err := fn(tx); err != nil {
		return err
	}
	tx.end()
	if b.Empty() {
		return nil
	}
	err := b.Commit(w.commitOpts)
	w.unlock()
	locked = false
	if err == nil {
		err = w.sync()
	}
	if err != nil {
		return fmt.Errorf("pebblekv: update: commit: %w", err)
	}
	return nil
}
