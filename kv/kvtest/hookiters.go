package kvtest

import (
	"context"

	"github.com/protoql/protoql/kv"
)

// HookIters is a store that hands every iterator it opens to Hook, for
// tests of code that reads through iterators: a hook may count the
// iterators, act as one opens (write to the store between two reads of
// one View, say) or return a wrapper of it that fails, counts or cancels
// as the test needs. The iterators of NewIter and of the Reader and Txn
// of View and Update pass Hook once each, when the wrapped store opened
// them without an error, with the options they were opened with; Hook
// returns the iterator to hand out, it or one wrapping it. A nil Hook
// hands them out unchanged.
//
// Only the methods of kv.Store are wrapped, and of the Reader and Txn
// only those of kv.Reader and kv.Txn: the optional interfaces of the
// wrapped store (kv.LatestUpdater, kv.KeyUpdater, kv.KeySetter,
// kv.KeyMerger) are hidden, so callers take their general paths, and
// every iterator they open passes Hook.
//
// Set Hook before use. Hook runs on the goroutine that opened the
// iterator, after the wrapped store's NewIter returned, so it may call
// the store; a HookIters is safe for concurrent use when Hook is.
type HookIters struct {
	kv.Store
	// Hook, when set, is given each iterator opened and returns the one
	// to hand out.
	Hook func(o kv.IterOptions, it kv.Iterator) kv.Iterator
}

func (s *HookIters) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := s.Store.NewIter(ctx, o)
	return s.hook(o, it, err)
}

func (s *HookIters) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(hookReader{r, s}) })
}

func (s *HookIters) Update(ctx context.Context, fn func(kv.Txn) error) error {
	return s.Store.Update(ctx, func(tx kv.Txn) error { return fn(hookTxn{hookReader{tx, s}, tx}) })
}

func (s *HookIters) hook(o kv.IterOptions, it kv.Iterator, err error) (kv.Iterator, error) {
	if err != nil || s.Hook == nil {
		return it, err
	}
	return s.Hook(o, it), nil
}

type hookReader struct {
	kv.Reader
	s *HookIters
}

func (r hookReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := r.Reader.NewIter(ctx, o)
	return r.s.hook(o, it, err)
}

// hookTxn reads through hookReader and writes to the Txn.
type hookTxn struct {
	hookReader
	kv.Writer
}
