package tikvkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	tikverr "github.com/tikv/client-go/v2/error"
	clientkv "github.com/tikv/client-go/v2/kv"
	"github.com/tikv/client-go/v2/txnkv/transaction"
	"github.com/tikv/client-go/v2/txnkv/txnsnapshot"

	"github.com/protoql/protoql/kv"
)

// reader reads one TiKV snapshot and, inside a transaction, the
// transaction's own writes. It implements kv.Reader for the Store itself
// (one fresh snapshot per call), for View and, through txn, for Update.
// Like every Reader it belongs to one goroutine.
type reader struct {
	s     *Store
	snap  *txnsnapshot.KVSnapshot
	txn   *transaction.KVTxn // nil outside Update and Apply
	lock  bool               // add keys read by Get to txn's conflict set
	ended atomic.Bool        // set when the View or Update returns
	seq   uint64             // writes to txn's buffer so far; see iterator
	lanes uint64             // lanes of the keys txn writes or locks
}

// Get implements kv.Reader.
func (r *reader) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.s.g.Exit()
	return r.get(ctx, key)
}

// NewIter implements kv.Reader.
func (r *reader) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.s.g.Exit()
	return newIter(ctx, r, opts)
}

// enter enters the store's guard unless the store is closed or the reader's
// transaction has ended.
func (r *reader) enter() error {
	if !r.s.g.Enter() {
		return errClosed
	}
	if r.ended.Load() {
		r.s.g.Exit()
		return errTxnEnded
	}
	return nil
}

func (r *reader) get(ctx context.Context, key []byte) ([]byte, error) {
	if err := r.s.ns.check(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stored := r.s.ns.key(key)
	var v []byte
	var err error
	if r.txn != nil {
		v, err = r.txn.Get(ctx, stored)
		if r.lock && (err == nil || tikverr.IsErrNotFound(err)) {
			if lerr := r.lockKey(ctx, stored); lerr != nil {
				return nil, lerr
			}
		}
	} else {
		v, err = r.snap.Get(ctx, stored)
	}
	switch {
	case tikverr.IsErrNotFound(err):
		return nil, kv.NotFound("tikvkv: get", key)
	case err != nil:
		return nil, fmt.Errorf("tikvkv: get %x: %w", key, err)
	}
	v, err = decodeValue(stored, v)
	if err != nil {
		return nil, err
	}
	// client-go may hand out the bytes it caches; the caller owns a copy.
	return append(make([]byte, 0, len(v)), v...), nil
}

// lockKey adds key to the optimistic transaction's conflict set: TiKV
// prewrites a lock-only mutation for it and fails the commit with a write
// conflict if another transaction committed the key after this one started.
// Nothing is sent to TiKV before the commit.
func (r *reader) lockKey(ctx context.Context, key []byte) error {
	r.seq++
	r.lanes |= 1 << laneOf(key)
	lockCtx := clientkv.NewLockCtx(0, clientkv.LockNoWait, time.Now())
	if err := r.txn.LockKeys(ctx, lockCtx, key); err != nil {
		return fmt.Errorf("tikvkv: lock read key %x: %w", key, err)
	}
	return nil
}

// txn implements kv.Txn over a client-go optimistic transaction.
type txn struct {
	*reader
	ctx        context.Context // the Update's: DeleteRange scans with it
	wrote      bool            // the buffer holds writes: commit
	err        error           // sticky: the transaction outgrew its limit
	kbuf, vbuf []byte          // scratch; the write buffer copies
}

// Set implements kv.Writer.
func (t *txn) Set(key, value []byte) error {
	if err := t.enter(); err != nil {
		return err
	}
	defer t.s.g.Exit()
	return t.set(key, value)
}

// Delete implements kv.Writer.
func (t *txn) Delete(key []byte) error {
	if err := t.enter(); err != nil {
		return err
	}
	defer t.s.g.Exit()
	return t.delete(key)
}

// DeleteRange implements kv.Writer. See Options.MaxDeleteRangeKeys.
func (t *txn) DeleteRange(start, end []byte) error {
	if err := t.enter(); err != nil {
		return err
	}
	defer t.s.g.Exit()
	if err := kv.CheckRange(start, end); err != nil {
		return err
	}
	return t.deleteRange(start, end)
}

func (t *txn) set(key, value []byte) error {
	if err := t.s.ns.check(key); err != nil {
		return err
	}
	t.kbuf = t.s.ns.appendKey(t.kbuf[:0], key)
	t.vbuf = appendValue(t.vbuf[:0], value)
	t.lanes |= 1 << laneOf(t.kbuf)
	return t.wrote1(t.txn.Set(t.kbuf, t.vbuf))
}

func (t *txn) delete(key []byte) error {
	if err := t.s.ns.check(key); err != nil {
		return err
	}
	t.kbuf = t.s.ns.appendKey(t.kbuf[:0], key)
	t.lanes |= 1 << laneOf(t.kbuf)
	return t.wrote1(t.txn.Delete(t.kbuf))
}

// wrote1 accounts for one write to the buffer that returned err.
func (t *txn) wrote1(err error) error {
	t.seq++
	if err != nil {
		err = fmt.Errorf("tikvkv: %w", err)
		if _, ok := errors.AsType[*tikverr.ErrTxnTooLarge](err); ok && t.err == nil {
			// The write went in: never commit this transaction.
			t.err = err
		}
		return err
	}
	t.wrote = true
	return nil
}

// deleteRange deletes every key in [start, end): TiKV's transactional API
// has no range deletion. It first collects the keys (reading the snapshot
// merged with this transaction's writes, keys only), so that a range over
// the limit fails before deleting anything.
func (t *txn) deleteRange(start, end []byte) error {
	if len(end) == 0 || bytes.Compare(start, end) >= 0 {
		return nil // empty range: end is a key here, not "no bound"
	}
	it, err := newIter(t.ctx, t.reader, kv.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	it.keysOnly = true
	t.snap.SetKeyOnly(true) // the transaction's own reads: one goroutine
	defer t.snap.SetKeyOnly(false)
	var keys []byte
	var ends []int
	limit := t.s.opts.MaxDeleteRangeKeys
	for ok := it.First(); ok; ok = it.Next() {
		if len(ends) == limit {
			it.err = fmt.Errorf("%w: [%x, %x) holds more than %d keys", ErrRangeTooLarge, start, end, limit)
			break
		}
		keys = append(keys, it.cur...)
		ends = append(ends, len(keys))
	}
	if err := it.Close(); err != nil {
		return err
	}
	from := 0
	for _, to := range ends {
		t.lanes |= 1 << laneOf(keys[from:to])
		if err := t.wrote1(t.txn.Delete(keys[from:to])); err != nil {
			return err
		}
		from = to
	}
	return nil
}
