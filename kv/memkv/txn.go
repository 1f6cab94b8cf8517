package memkv

import (
	"context"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
)

// view is View's reader, and the snapshot an Update's transaction reads:
// a published, immutable tree.
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
