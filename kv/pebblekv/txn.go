package pebblekv

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
)

// scope is the read side of a transaction: Update's indexed batch or View's
// snapshot, and the iterators opened on it, which end closes. It belongs to
// the goroutine running Update or View.
type scope struct {
	r     reader
	done  atomic.Bool // an atomic so that misuse after the end is not a data race
	iters map[*iterator]struct{}
}

func (sc *scope) Get(_ context.Context, key []byte) ([]byte, error) {
	if sc.done.Load() {
		return nil, errTxnEnded
	}
	return get(sc.r, key)
}

// NewIter iterates over the transaction's state as it is now.
func (sc *scope) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if sc.done.Load() {
		return nil, errTxnEnded
	}
	i, err := newIter(ctx, sc.r, opts)
	if err != nil {
		return nil, err
	}
	i.scope = sc
	if sc.iters == nil {
		sc.iters = make(map[*iterator]struct{})
	}
	sc.iters[i] = struct{}{}
	return i, nil
}

// end ends the transaction and closes the iterators left open; their owners
// see kv.ErrClosed from now on.
func (sc *scope) end() {
	if sc.done.Swap(true) {
		return
	}
	for i := range sc.iters {
		_ = i.it.Close()
	}
	sc.iters = nil
}

// view is View's reader. It is a distinct type from txn so that it does not
// satisfy kv.Txn.
type view struct{ scope }

// txn is Update's transaction over an indexed batch: reads see its writes.
type txn struct {
	scope
	b *pebble.Batch
}

func (tx *txn) Set(key, value []byte) error {
	if err := tx.check("set", key); err != nil {
		return err
	}
	return wrapWrite("set", tx.b.Set(key, value, nil))
}

func (tx *txn) Delete(key []byte) error {
	if err := tx.check("delete", key); err != nil {
		return err
	}
	return wrapWrite("delete", tx.b.Delete(key, nil))
}

func (tx *txn) DeleteRange(start, end []byte) error {
	if tx.done.Load() {
		return errTxnEnded
	}
	if err := kv.CheckRange(start, end); err != nil {
		return fmt.Errorf("pebblekv: delete range: %w", err)
	}
	return wrapWrite("delete range", deleteRange(tx.b, start, end))
}

func (tx *txn) check(op string, key []byte) error {
	if tx.done.Load() {
		return errTxnEnded
	}
	if len(key) == 0 {
		return fmt.Errorf("pebblekv: %s: %w: empty key", op, kv.ErrInvalid)
	}
	return nil
}

func wrapWrite(op string, err error) error {
	if err != nil {
		return fmt.Errorf("pebblekv: %s: %w", op, err)
	}
	return nil
}
