// Package memkv is protoql's in-memory reference engine: an ordered map that
// implements [kv.Store] as plainly as possible, for tests, examples and as the
// yardstick other engines are compared with. Nothing is persisted.
//
// # The B-tree
//
// Data lives in a github.com/tidwall/btree BTreeG. It was chosen over
// github.com/google/btree because it has a cursor iterator (Seek, First,
// Last, Next, Prev) that maps directly onto [kv.Iterator] in both directions,
// where google/btree only offers callback scans; because its Copy is an O(1)
// copy-on-write snapshot; because it is generic, actively maintained and
// widely used; and because it is already in protoql's module graph, so memkv
// adds no dependency.
//
// # Isolation and concurrency
//
// memkv is serializable. Apply and Update hold a single writer lock (waiting
// for it honours the context), so writers run one at a time and never
// conflict: Update's function runs exactly once. A writer works on a
// copy-on-write copy of the tree that only it can see and, when it commits,
// publishes an immutable copy through an atomic pointer. Readers — Get and
// NewIter on the Store, and View — load that pointer and never block or take
// a lock; a Store-level iterator and a View read the snapshot current when
// they started. Inside Update, reads see the transaction's own writes; an
// iterator opened in a transaction sees the writes made before it was
// opened, not later ones (as with Pebble's indexed batches).
//
// # Buffer ownership
//
// The store copies every key and value it is given and every value Get
// returns. Iterator keys and values point into the store and must not be
// modified.
package memkv

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tidwall/btree"

	"github.com/protoql/protoql/kv"
)

// Options configures a Store. The zero value is ready to use: every zero field
// takes its default.
type Options struct {
	// Degree is the B-tree degree: a node holds up to 2*Degree-1 entries.
	// Small degrees make deep trees, which tests use to exercise node
	// splits and merges. Default 32.
	Degree int
}

// Option sets a field of Options.
type Option func(*Options)

// WithDegree sets Options.Degree.
func WithDegree(n int) Option { return func(o *Options) { o.Degree = n } }

const defaultDegree = 32

// entry is one key-value pair in the tree.
type entry struct{ key, value []byte }

func lessEntry(a, b entry) bool { return bytes.Compare(a.key, b.key) < 0 }

type tree = btree.BTreeG[entry]

var (
	errClosed   = fmt.Errorf("memkv: %w", kv.ErrClosed)
	errTxnEnded = fmt.Errorf("memkv: transaction ended: %w", kv.ErrClosed)
)

// Store is an in-memory kv.Store. It is safe for concurrent use.
type Store struct {
	writer chan struct{}        // a token held by the one running writer
	master *tree                // the latest state; only the writer touches it
	snap   atomic.Pointer[tree] // an immutable copy of master, for readers
	closed atomic.Bool
}

var _ kv.Store = (*Store)(nil)

// New returns an empty store.
func New(opts ...Option) *Store {
	o := Options{Degree: defaultDegree}
	for _, opt := range opts {
		opt(&o)
	}
	if o.Degree <= 0 {
		o.Degree = defaultDegree
	}
	s := &Store{
		writer: make(chan struct{}, 1),
		// The tree's own locks are off: master belongs to the writer and
		// published copies are never modified.
		master: btree.NewBTreeGOptions(lessEntry, btree.Options{Degree: o.Degree, NoLocks: true}),
	}
	s.publish()
	return s
}

// publish makes master's current state visible to readers. The copy is never
// modified: master's later writes copy the nodes they change. Only the writer
// calls it.
func (s *Store) publish() { s.snap.Store(s.master.Copy()) }

// Get returns a copy of the latest committed value of key.
func (s *Store) Get(_ context.Context, key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	return get(s.snap.Load(), key)
}

// NewIter returns an iterator over the snapshot committed when it is called.
// After Close, the iterator's calls fail with kv.ErrClosed.
func (s *Store) NewIter(_ context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	return newIter(s.snap.Load(), opts, &s.closed, errClosed)
}

// Apply commits b's operations atomically, in order.
func (s *Store) Apply(ctx context.Context, b *kv.Batch) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("memkv: apply: %w", err)
	}
	defer s.unlock()
	if b == nil || b.Len() == 0 {
		return nil
	}
	for _, op := range b.Ops() {
		applyOp(s.master, op)
	}
	s.publish()
	return nil
}

// Update runs fn in a serializable read-write transaction; fn runs once.
func (s *Store) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("memkv: update: %w", err)
	}
	defer s.unlock()
	tx := &txn{t: s.master.Copy()}
	defer tx.done.Store(true) // also when fn panics
	if err := fn(tx); err != nil {
		return err
	}
	tx.done.Store(true)
	if tx.dirty {
		s.master = tx.t
		s.publish()
	}
	return nil
}

// View runs fn on the snapshot committed when it is called.
func (s *Store) View(ctx context.Context, fn func(kv.Reader) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: view: %w", err)
	}
	v := &view{t: s.snap.Load()}
	defer v.done.Store(true)
	return fn(v)
}

// Close marks the store closed; every later call returns kv.ErrClosed.
// Calls already running finish normally.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return errClosed
	}
	return nil
}

// lock takes the writer token, giving up when ctx ends first or the store is
// closed.
func (s *Store) lock(ctx context.Context) error {
	if s.closed.Load() {
		return kv.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed.Load() {
		s.unlock()
		return kv.ErrClosed
	}
	return nil
}

func (s *Store) unlock() { <-s.writer }

// applyOp applies one batch operation to t, copying the batch's bytes, which
// the batch reuses after Reset.
func applyOp(t *tree, op kv.Op) {
	switch op.Kind {
	case kv.OpSet:
		t.Set(entry{key: bytes.Clone(op.Key), value: cloneValue(op.Value)})
	case kv.OpDelete:
		t.Delete(entry{key: op.Key})
	case kv.OpDeleteRange:
		deleteRange(t, op.Key, op.Value)
	}
}

func deleteRange(t *tree, start, end []byte) {
	if bytes.Compare(start, end) < 0 {
		t.DeleteRange(entry{key: start}, entry{key: end}, &btree.DeleteRangeOptions{NoReturn: true})
	}
}

// cloneValue copies v, keeping an empty value non-nil.
func cloneValue(v []byte) []byte { return append(make([]byte, 0, len(v)), v...) }

func get(t *tree, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("memkv: get: %w: empty key", kv.ErrInvalid)
	}
	e, ok := t.Get(entry{key: key})
	if !ok {
		return nil, fmt.Errorf("memkv: get %x: %w", key, kv.ErrNotFound)
	}
	return cloneValue(e.value), nil
}
