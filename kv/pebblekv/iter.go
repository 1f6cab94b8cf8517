package pebblekv

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
)

// iterator adapts a pebble.Iterator to kv.Iterator: a reverse iterator's
// First and Next are Pebble's Last and Prev. It belongs to one goroutine.
//
// A Store-level iterator outlives the calls that made it, so each of its
// calls enters the store's guard, and Close may close the Pebble iterator
// between two of them; a transaction's iterator lives inside Update or View,
// which end closes. Either way, once the owner has closed the Pebble
// iterator, this iterator reports kv.ErrClosed and never touches it again.
// Key and Value return slices of Pebble's memory without entering the
// guard for the caller's use of them, so a Store.Close racing that use
// frees memory under it: the kv package doc forbids closing the store
// while its iterators are in use (guarding it would cost a copy per key).
type iterator struct {
	it    *pebble.Iterator
	store *Store // set for Store-level iterators
	scope *scope // set for transaction iterators
	// ended is set once the owner has ended: the store's closing flag
	// (set as Close starts) or the scope's done. Key and Value check it
	// with one load.
	ended *atomic.Bool
	key   []byte
	// val is the current value, taken by the move that landed on it, so
	// that Value returns it without entering the guard or calling into
	// Pebble. A value Pebble holds in place costs nothing to take; one it
	// keeps elsewhere (an older version of a key, which a snapshot may
	// read, in a table's value block) is fetched then, inside the move's
	// guard, so that a fetch that fails fails the move (settle) instead of
	// leaving a position whose value reads as empty.
	val     []byte
	err     error
	shard   uint32 // where store.iters holds a Store-level iterator:
	slot    uint32 // its shard and its slot there
	reverse bool
	valid   bool
	closed  bool
}

func newIter(ctx context.Context, r reader, opts kv.IterOptions) (*iterator, error) {
	lo, hi := opts.LowerBound, opts.UpperBound
	if len(lo) > 0 && len(hi) > 0 && bytes.Compare(lo, hi) > 0 {
		return nil, fmt.Errorf("pebblekv: new iterator: %w: lower bound %s is after upper bound %s", kv.ErrInvalid, kv.KeyText(lo), kv.KeyText(hi))
	}
	// Pebble copies the bounds into the iterator (Iterator.processBounds),
	// so the caller's buffers are not retained. Empty bounds are no bounds.
	var it *pebble.Iterator
	var err error
	if db, ok := r.(*pebble.DB); ok {
		// The DB itself, called directly: its options stay on the stack
		// (through the interface they escape, an allocation per iterator).
		var po pebble.IterOptions
		po.LowerBound, po.UpperBound = nonEmpty(lo), nonEmpty(hi)
		it, err = db.NewIterWithContext(ctx, &po)
	} else {
		var po pebble.IterOptions
		po.LowerBound, po.UpperBound = nonEmpty(lo), nonEmpty(hi)
		it, err = r.NewIterWithContext(ctx, &po)
	}
	if err != nil {
		return nil, fmt.Errorf("pebblekv: new iterator: %w", wrapCorrupt(err))
	}
	return &iterator{it: it, reverse: opts.Reverse}, nil
}

// nonEmpty returns b, or nil when it is empty: an empty bound is no bound.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// enter reports whether the iterator may use the Pebble iterator; if so, the
// caller must call exit when done. A call after Close fails with
// kv.ErrClosed.
func (i *iterator) enter() bool {
	switch {
	case i.err != nil:
	case i.closed:
		i.setErr(errIterClosed)
	case i.store != nil && !i.store.g.Enter():
		i.setErr(errClosed)
	case i.scope != nil && i.scope.done.Load():
		i.setErr(errTxnEnded)
	default:
		return true
	}
	i.valid = false
	return false
}

func (i *iterator) exit() {
	if i.store != nil {
		i.store.g.Exit()
	}
}

func (i *iterator) setErr(err error) {
	if i.err == nil {
		i.err = err
	}
}

func (i *iterator) First() bool {
	if !i.enter() {
		return false
	}
	if i.store != nil {
		defer i.exit()
	}
	if i.reverse {
		return i.settle(i.it.Last())
	}
	return i.settle(i.it.First())
}

func (i *iterator) Next() bool {
	if !i.valid || i.ended.Load() {
		return i.nextEntered()
	}
	// At a pair: no error or Close behind it (each of them clears valid),
	// and its owner not ended — what enter would find but the store's
	// guard, without the call.
	if i.store != nil {
		return i.nextStore()
	}
	// A transaction's iterator: no guard to enter.
	var ok bool
	if i.reverse {
		ok = i.it.Prev()
	} else {
		ok = i.it.Next()
	}
	if ok && i.inPlace() {
		return true
	}
	return i.settle(ok)
}

// inPlace is settle's usual case, which the fast paths of a move from a
// pair take in line (valid is already true there): the Pebble iterator is at a pair whose
// value Pebble holds in place, and the iterator takes it. It reports
// false, taking nothing, for a value kept apart, which settle fetches.
// It is inlined (go build -gcflags=-m says so); the move before it is
// written out in each fast path, as a method it would not be (Pebble's
// Next and Prev inlined in it exceed the inliner's budget).
func (i *iterator) inPlace() bool {
	lv := i.it.LazyValue()
	if lv.Fetcher != nil {
		return false
	}
	i.key, i.val = i.it.Key(), lv.ValueOrHandle
	return true
}

// NextPair is kv.PairNexter's: Next and, when it lands, Key and Value,
// in one call. A transaction's iterator at a pair moves as Next's fast
// path does and returns the pair it took (the owner's end, which would
// make Key and Value answer nil, comes from the goroutine that owns the
// iterator, which is making this call, so it cannot fall between the
// move and the return); every other case is Next, Key and Value
// themselves.
func (i *iterator) NextPair() ([]byte, []byte, bool) {
	if i.valid && i.store == nil && !i.ended.Load() {
		var ok bool
		if i.reverse {
			ok = i.it.Prev()
		} else {
			ok = i.it.Next()
		}
		if (ok && i.inPlace()) || i.settle(ok) {
			return i.key, i.val, true
		}
		return nil, nil, false
	}
	if !i.Next() {
		return nil, nil, false
	}
	return i.Key(), i.Value(), true
}

// nextStore is a Store-level iterator's Next at a pair: the move under the
// store's guard, as nextEntered makes it, without enter's checks that the
// pair already answers, and settle's usual case in line. A store whose
// Close has started refuses the guard, and the iterator then reports
// kv.ErrClosed without touching the Pebble iterator, which that Close
// closes.
func (i *iterator) nextStore() bool {
	if !i.store.g.Enter() {
		i.valid = false
		i.setErr(errClosed)
		return false
	}
	defer i.store.g.Exit()
	var ok bool
	if i.reverse {
		ok = i.it.Prev()
	} else {
		ok = i.it.Next()
	}
	if ok && i.inPlace() {
		return true
	}
	return i.settle(ok)
}

// nextEntered is Next through enter: a Store-level iterator's move, under
// the store's guard, and every move that fails or finds nothing.
func (i *iterator) nextEntered() bool {
	if !i.enter() {
		return false
	}
	if i.store != nil {
		defer i.exit()
	}
	if !i.valid {
		return false
	}
	if i.reverse {
		return i.settle(i.it.Prev())
	}
	return i.settle(i.it.Next())
}

// SeekGE positions at the first key >= key; Pebble clamps key to the bounds.
func (i *iterator) SeekGE(key []byte) bool {
	if !i.enter() {
		return false
	}
	if i.store != nil {
		defer i.exit()
	}
	if i.reverse {
		i.valid = false
		i.setErr(fmt.Errorf("pebblekv: SeekGE on a reverse iterator: %w", kv.ErrInvalid))
		return false
	}
	if len(key) == 0 {
		// Every key is >= the empty key. (Pebble's invariant checks, on
		// under -race, index a non-nil empty seek key.)
		return i.settle(i.it.First())
	}
	return i.settle(i.it.SeekGE(key))
}

// SeekLT positions at the last key < key; Pebble clamps key to the bounds.
func (i *iterator) SeekLT(key []byte) bool {
	if !i.enter() {
		return false
	}
	if i.store != nil {
		defer i.exit()
	}
	if !i.reverse {
		i.valid = false
		i.setErr(fmt.Errorf("pebblekv: SeekLT on a forward iterator: %w", kv.ErrInvalid))
		return false
	}
	if len(key) == 0 {
		return i.settle(false) // no key is < the empty key
	}
	return i.settle(i.it.SeekLT(key))
}

func (i *iterator) settle(ok bool) bool {
	i.valid = ok
	if ok {
		if i.inPlace() {
			return true
		}
		i.key = i.it.Key()
		v, err := i.it.ValueAndErr()
		if err == nil {
			i.val = v
			return true
		}
		i.valid = false
		i.setErr(fmt.Errorf("pebblekv: iterator value of %s: %w", kv.KeyText(i.key), wrapCorrupt(err)))
		i.key, i.val = nil, nil
		return false
	}
	i.key, i.val = nil, nil
	if err := i.it.Error(); err != nil {
		i.setErr(fmt.Errorf("pebblekv: iterator: %w", wrapCorrupt(err)))
	}
	return false
}

func (i *iterator) Valid() bool { return i.positioned() }

func (i *iterator) Key() []byte {
	if !i.positioned() {
		return nil
	}
	return i.key
}

// positioned reports whether the iterator is at a pair. One whose owner
// has ended (a Store-level iterator's store closed, a transaction's or
// view's iterator after its end) is not: the owner closed its Pebble
// iterator, and the key it held pointed into memory Pebble has released.
// (Error records the owner's end; positioned only reads — valid and the
// owner's ended flag — small enough to inline into Key and Value, which a
// scan calls for every pair.)
func (i *iterator) positioned() bool {
	return i.valid && !i.ended.Load()
}

// ownerEnded returns the error of an iterator whose owner has ended (the
// store closed, the transaction or view returned), or nil.
func (i *iterator) ownerEnded() error {
	switch {
	case !i.ended.Load():
		return nil
	case i.store != nil:
		return errClosed
	}
	return errTxnEnded
}

// Value returns the current value, taken when the iterator landed
// (settle), as Key returns the key.
func (i *iterator) Value() []byte {
	if !i.positioned() {
		return nil
	}
	return i.val
}

// Error returns the first error the iterator met; once its owner has ended,
// one wrapping kv.ErrClosed.
func (i *iterator) Error() error {
	if i.err == nil && !i.closed {
		if err := i.ownerEnded(); err != nil {
			i.valid, i.key, i.val, i.err = false, nil, nil, err
		}
	}
	return i.err
}

func (i *iterator) Close() error {
	if i.closed {
		return i.err
	}
	i.closed, i.valid, i.key, i.val = true, false, nil, nil
	switch {
	case i.store != nil:
		if !i.store.g.Enter() {
			i.setErr(errClosed) // Store.Close closed the Pebble iterator
			return i.err
		}
		defer i.store.g.Exit()
		i.store.iters.remove(i)
	case i.scope.done.Load():
		i.setErr(errTxnEnded) // the transaction's end closed it
		return i.err
	default:
		delete(i.scope.iters, i)
		if pr, ok := i.scope.r.(*pointReader); ok && pr.release(i.it) {
			// The view's anchor (pointread.go), lent to this iterator:
			// the view's end closes it.
			if err := i.it.Error(); err != nil {
				i.setErr(fmt.Errorf("pebblekv: iterator: %w", wrapCorrupt(err)))
			}
			return i.err
		}
	}
	if err := i.it.Close(); err != nil {
		i.setErr(fmt.Errorf("pebblekv: iterator: %w", err))
	}
	return i.err
}

var _ kv.PairNexter = (*iterator)(nil)
