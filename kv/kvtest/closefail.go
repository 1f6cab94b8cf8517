package kvtest

import (
	"bytes"
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
// iterators fail. Store is a [HookIters] of the wrapped store, so only
// the methods of kv.Store are wrapped: the optional interfaces of the
// wrapped store (kv.KeyUpdater, ...) are hidden, so callers take their
// general paths.
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
func NewCloseFails(s kv.Store) *CloseFails {
	c := &CloseFails{}
	c.Store = &HookIters{Store: s, Hook: c.hook}
	return c
}

// Opened returns how many iterators the store has opened, failing or not.
func (s *CloseFails) Opened() int64 { return s.opened.Load() }

func (s *CloseFails) hook(o kv.IterOptions, it kv.Iterator) kv.Iterator {
	n := s.opened.Add(1)
	if only := s.FailOnly.Load(); only > 0 && n != only {
		return it
	}
	if s.FailFrom != nil && bytes.Compare(o.LowerBound, s.FailFrom) <= 0 {
		return it
	}
	return closeFailsIter{it, s}
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
