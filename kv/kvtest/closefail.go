package kvtest

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
)

// ErrCloseFailed is the error of a [CloseFails] iterator's failing Close.
var ErrCloseFailed = errors.New("kvtest: iterator Close failed")

// CloseFails is a store whose iterators fail to close: a store that could
// not release an iterator (a lost connection, say), for tests of code that
// must report an iterator's Close error rather than pass a read for
// complete. Its iterators (of NewIter, and of the Reader and Txn of View
// and Update) work as the wrapped store's; while Fail is set, their Close
// closes the wrapped iterator and then returns ErrCloseFailed (or the
// wrapped Close's own error). FailOnly and FailFrom narrow which
// iterators fail. Only the methods of kv.Store are wrapped: the optional
// interfaces of the wrapped store (kv.KeyUpdater, ...) are hidden, so
// callers take their general paths.
//
// A CloseFails is safe for concurrent use; set FailFrom before use.
type CloseFails struct {
	kv.Store
	// Fail turns the failures on.
	Fail atomic.Bool
	// FailOnly, when above zero, limits the failures to the iterator
	// opened when FailOnly-1 others had been (Opened counts them).
	FailOnly atomic.Int64
	// FailFrom, when set, limits the failures to the iterators whose
	// lower bound is above it.
	FailFrom []byte

	opened atomic.Int64
}

// NewCloseFails wraps s; Fail is not set yet.
func NewCloseFails(s kv.Store) *CloseFails { return &CloseFails{Store: s} }

// Opened returns how many iterators the store has opened, failing or not.
func (s *CloseFails) Opened() int64 { return s.opened.Load() }

func (s *CloseFails) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := s.Store.NewIter(ctx, o)
	return s.wrap(o, it, err)
}

func (s *CloseFails) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(closeFailsReader{r, s}) })
}

func (s *CloseFails) Update(ctx context.Context, fn func(kv.Txn) error) error {
	return s.Store.Update(ctx, func(tx kv.Txn) error { return fn(closeFailsTxn{tx, s}) })
}

type closeFailsReader struct {
	kv.Reader
	s *CloseFails
}

func (r closeFailsReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := r.Reader.NewIter(ctx, o)
	return r.s.wrap(o, it, err)
}

type closeFailsTxn struct {
	kv.Txn
	s *CloseFails
}

func (t closeFailsTxn) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := t.Txn.NewIter(ctx, o)
	return t.s.wrap(o, it, err)
}

func (s *CloseFails) wrap(o kv.IterOptions, it kv.Iterator, err error) (kv.Iterator, error) {
	if err != nil {
		return nil, err
	}
	n := s.opened.Add(1)
	if only := s.FailOnly.Load(); only > 0 && n != only {
		return it, nil
	}
	if s.FailFrom != nil && bytes.Compare(o.LowerBound, s.FailFrom) <= 0 {
		return it, nil
	}
	return closeFailsIter{it, s}, nil
}

type closeFailsIter struct {
	kv.Iterator
	s *CloseFails
}

func (it closeFailsIter) Close() error {
	if err := it.Iterator.Close(); err != nil || !it.s.Fail.Load() {
		return err
	}
	return ErrCloseFailed
}
