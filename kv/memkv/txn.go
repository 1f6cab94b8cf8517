package memkv

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
)

// txn is Update's transaction: a private copy-on-write copy of the tree that
// becomes the store's state on commit. It belongs to Update's goroutine.
type txn struct {
	t     *tree
	dirty bool
	done  atomic.Bool // set when Update returns; an atomic so misuse is not a race
}

func (tx *txn) Get(_ context.Context, key []byte) ([]byte, error) {
	if tx.done.Load() {
		return nil, errTxnEnded
	}
	return get(tx.t, key)
}

// NewIter iterates over a copy of the transaction's state as it is now.
func (tx *txn) NewIter(_ context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if tx.done.Load() {
		return nil, errTxnEnded
	}
	return newIter(tx.t.Copy(), opts, &tx.done, errTxnEnded)
}

func (tx *txn) Set(key, value []byte) error {
	if err := tx.check("set", key); err != nil {
		return err
	}
	tx.t.Set(entry{key: bytes.Clone(key), value: cloneValue(value)})
	tx.dirty = true
	return nil
}

func (tx *txn) Delete(key []byte) error {
	if err := tx.check("delete", key); err != nil {
		return err
	}
	if _, ok := tx.t.Delete(entry{key: key}); ok {
		tx.dirty = true
	}
	return nil
}

func (tx *txn) DeleteRange(start, end []byte) error {
	if tx.done.Load() {
		return errTxnEnded
	}
	if err := kv.CheckRange(start, end); err != nil {
		return fmt.Errorf("memkv: delete range: %w", err)
	}
	deleteRange(tx.t, start, end)
	tx.dirty = true
	return nil
}

func (tx *txn) check(op string, key []byte) error {
	if tx.done.Load() {
		return errTxnEnded
	}
	if len(key) == 0 {
		return fmt.Errorf("memkv: %s: %w: empty key", op, kv.ErrInvalid)
	}
	return nil
}

// view is View's reader: a published, immutable snapshot.
type view struct {
	t    *tree
	done atomic.Bool
}

func (v *view) Get(_ context.Context, key []byte) ([]byte, error) {
	if v.done.Load() {
		return nil, errTxnEnded
	}
	return get(v.t, key)
}

func (v *view) NewIter(_ context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if v.done.Load() {
		return nil, errTxnEnded
	}
	return newIter(v.t, opts, &v.done, errTxnEnded)
}
