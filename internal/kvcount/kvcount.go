// Package kvcount wraps a kv.Store and counts what reaches it, so tests can
// assert how many keys a call wrote or read instead of timing it.
package kvcount

import (
	"bytes"
	"context"
	"sync"

	"github.com/protoql/protoql/kv"
)

// Counts is a snapshot of the operations seen.
type Counts struct {
	Sets, Deletes, DeleteRanges int
	Gets                        int
	Iters                       int // iterators opened
	KeysRead                    int // keys an iterator was positioned at
	BytesRead                   int // key and value bytes of those keys
	// Seeks counts the iterator calls that search the store (First,
	// SeekGE, SeekLT), Steps those that move to the adjacent key (Next),
	// whether or not they land on a key. A seek costs an engine far more
	// than a step (Pebble searches every level of its LSM tree).
	Seeks, Steps int
	// Ranges lists the bounds of every iterator and DeleteRange, in order.
	Ranges []Range
	// Keys lists every key positioned at by an iterator or Get, in order.
	Keys [][]byte
}

// Range is a pair of bounds as passed to the store.
type Range struct{ Lower, Upper []byte }

// Store is a counting kv.Store. Its iterators implement kv.PairNexter
// when the wrapped store's do.
type Store struct {
	kv.Store
	mu sync.Mutex
	c  Counts
}

// New wraps s.
func New(s kv.Store) *Store { return &Store{Store: s} }

// Reset zeroes the counts.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c = Counts{}
}

// Counts returns the counts so far.
func (s *Store) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *Store) note(fn func(c *Counts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.c)
}

// Get implements kv.Reader.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	return countingReader{s, s.Store}.Get(ctx, key)
}

// NewIter implements kv.Reader.
func (s *Store) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	return countingReader{s, s.Store}.NewIter(ctx, o)
}

// Apply implements kv.Store.
func (s *Store) Apply(ctx context.Context, b *kv.Batch) error {
	for _, op := range b.Ops() {
		s.noteWrite(op.Kind, op.Key, op.Value)
	}
	return s.Store.Apply(ctx, b)
}

func (s *Store) noteWrite(k kv.OpKind, key, end []byte) {
	s.note(func(c *Counts) {
		switch k {
		case kv.OpSet:
			c.Sets++
		case kv.OpDelete:
			c.Deletes++
		case kv.OpDeleteRange:
			c.DeleteRanges++
			c.Ranges = append(c.Ranges, Range{bytes.Clone(key), bytes.Clone(end)})
		}
	})
}

// Update implements kv.Store, counting the transaction's operations.
func (s *Store) Update(ctx context.Context, fn func(kv.Txn) error) error {
	return s.Store.Update(ctx, func(txn kv.Txn) error {
		return fn(countingTxn{countingReader{s, txn}, txn})
	})
}

// View implements kv.Store, counting the snapshot's reads.
func (s *Store) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.Store.View(ctx, func(r kv.Reader) error { return fn(countingReader{s, r}) })
}

type countingReader struct {
	s *Store
	r kv.Reader
}

func (c countingReader) Get(ctx context.Context, key []byte) ([]byte, error) {
	v, err := c.r.Get(ctx, key)
	c.s.note(func(n *Counts) {
		n.Gets++
		n.Keys = append(n.Keys, bytes.Clone(key))
		n.BytesRead += len(key) + len(v)
	})
	return v, err
}

func (c countingReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := c.r.NewIter(ctx, o)
	if err != nil {
		return nil, err
	}
	c.s.note(func(n *Counts) {
		n.Iters++
		n.Ranges = append(n.Ranges, Range{bytes.Clone(o.LowerBound), bytes.Clone(o.UpperBound)})
	})
	ci := &countingIter{Iterator: it, s: c.s}
	if pn, ok := it.(kv.PairNexter); ok {
		// The wrapper offers kv.PairNexter only when the store's
		// iterator does, so that a reader tries the same path on the
		// counted store as on the store itself.
		return &countingPairIter{countingIter: ci, pn: pn}, nil
	}
	return ci, nil
}

type countingTxn struct {
	countingReader
	w kv.Writer
}

func (t countingTxn) Set(key, value []byte) error {
	t.s.noteWrite(kv.OpSet, key, nil)
	return t.w.Set(key, value)
}

func (t countingTxn) Delete(key []byte) error {
	t.s.noteWrite(kv.OpDelete, key, nil)
	return t.w.Delete(key)
}

func (t countingTxn) DeleteRange(start, end []byte) error {
	t.s.noteWrite(kv.OpDeleteRange, start, end)
	return t.w.DeleteRange(start, end)
}

type countingIter struct {
	kv.Iterator
	s *Store
}

func (it *countingIter) count(ok bool) bool {
	if ok {
		k, v := it.Key(), it.Value()
		it.s.note(func(n *Counts) {
			n.KeysRead++
			n.BytesRead += len(k) + len(v)
			n.Keys = append(n.Keys, bytes.Clone(k))
		})
	}
	return ok
}

func (it *countingIter) move(step bool) {
	it.s.note(func(n *Counts) {
		if step {
			n.Steps++
		} else {
			n.Seeks++
		}
	})
}

func (it *countingIter) First() bool { it.move(false); return it.count(it.Iterator.First()) }
func (it *countingIter) Next() bool  { it.move(true); return it.count(it.Iterator.Next()) }
func (it *countingIter) SeekGE(k []byte) bool {
	it.move(false)
	return it.count(it.Iterator.SeekGE(k))
}
func (it *countingIter) SeekLT(k []byte) bool {
	it.move(false)
	return it.count(it.Iterator.SeekLT(k))
}

// countingPairIter is a countingIter over an iterator that implements
// kv.PairNexter: NextPair is counted as Next is (a step, and the pair it
// lands on).
type countingPairIter struct {
	*countingIter
	pn kv.PairNexter
}

func (it *countingPairIter) NextPair() ([]byte, []byte, bool) {
	it.move(true)
	k, v, ok := it.pn.NextPair()
	if ok {
		it.s.note(func(n *Counts) {
			n.KeysRead++
			n.BytesRead += len(k) + len(v)
			n.Keys = append(n.Keys, bytes.Clone(k))
		})
	}
	return k, v, ok
}
