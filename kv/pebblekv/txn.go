package pebblekv

import (
	"context"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
)

// scope is a snapshot read by View or by an Update's transaction, and the
// iterators opened on it, which end closes. It belongs to the goroutine
// running Update or View.
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
	i.scope, i.ended = sc, &sc.done
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
	pr, _ := sc.r.(*pointReader)
	for i := range sc.iters {
		if pr != nil && pr.release(i.it) {
			continue // the view's anchor, which View closes after this
		}
		_ = i.it.Close()
	}
	sc.iters = nil
}

// view is View's reader and the snapshot side of Update's transaction
// (package occ merges it with the transaction's writes). It does not
// satisfy kv.Txn.
type view struct{ scope }
