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
// memkv is serializable, optimistically, without a lock held across an
// Update's function (the concurrency control is shared with kv/pebblekv;
// see that package's doc for the full account). An Update reads the
// snapshot committed when its attempt began, records the keys it read and
// the key ranges its iterators covered, and buffers its writes, which its
// own reads see. At commit, under a short commit lock, the read set is
// checked against the writes committed since the snapshot; if one of them
// wrote a key the transaction read (or a key inside a range it scanned, so
// phantoms conflict too), the attempt is discarded and the function runs
// again after a short random backoff, up to 100 attempts, after which
// Update fails with kv.ErrConflict. Apply is a blind write: never checked,
// but it conflicts with transactions that read what it writes. A
// transaction that outlives Options.MaxTxnLifetime fails with
// kv.ErrExpired.
//
// Committed states are immutable copy-on-write copies of the tree,
// published through an atomic pointer: readers — Get and NewIter on the
// Store, View, and Update's snapshot reads — never block or take a lock; a
// Store-level iterator and a View read the snapshot current when they
// started. Inside Update, an iterator sees the writes the transaction made
// before it was opened, not later ones (as with Pebble's indexed batches).
//
// # Field patches
//
// memkv implements kv.KeyMerger (CanMerge is always true): MergeKey
// applies the patch to the key's value when it commits, under the commit
// lock, and stores the plain result, so readers never see a patch.
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
	"time"

	"github.com/tidwall/btree"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/fieldpatch"
	"github.com/protoql/protoql/kv/internal/occ"
)

// Options configures a Store. The zero value is ready to use: every zero field
// takes its default.
type Options struct {
	// MaxTxnLifetime bounds how long an Update's attempt may run; after it
	// the transaction's calls and its commit fail with kv.ErrExpired.
	// Default one minute.
	MaxTxnLifetime time.Duration
	// Degree is the B-tree degree: a node holds up to 2*Degree-1 entries.
	// Small degrees make deep trees, which tests use to exercise node
	// splits and merges. Default 32.
	Degree int
}

// Option sets a field of Options.
type Option func(*Options)

// WithMaxTxnLifetime sets Options.MaxTxnLifetime.
func WithMaxTxnLifetime(d time.Duration) Option { return func(o *Options) { o.MaxTxnLifetime = d } }

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
	// errIterClosed is the error of an iterator's positioning calls after
	// its Close.
	errIterClosed = fmt.Errorf("memkv: iterator closed: %w", kv.ErrClosed)
)

// Store is an in-memory kv.Store. It is safe for concurrent use.
type Store struct {
	occ    *occ.Manager
	master *tree                // the latest state; touched only under occ's commit lock
	snap   atomic.Pointer[tree] // an immutable copy of master, for readers
	closed atomic.Bool
}

var (
	_ kv.Store     = (*Store)(nil)
	_ kv.KeyMerger = (*Store)(nil)
)

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
		occ: occ.NewManager("memkv", o.MaxTxnLifetime),
		// The tree's own locks are off: master is written under the
		// commit lock only and published copies are never modified.
		master: btree.NewBTreeGOptions(lessEntry, btree.Options{Degree: o.Degree, NoLocks: true}),
	}
	s.publish()
	return s
}

// publish makes master's current state visible to readers. The copy is never
// modified: master's later writes copy the nodes they change. It is called
// under the commit lock.
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

// Apply commits b's operations atomically, in order. It is a blind write:
// never checked for conflicts, but transactions that read what it writes
// conflict with it.
func (s *Store) Apply(ctx context.Context, b *kv.Batch) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: apply: %w", err)
	}
	if b == nil || b.Len() == 0 {
		return nil
	}
	ops := b.Ops()
	return s.occ.Commit(nil, nil, func() *occ.WriteSet { return occ.BatchWriteSet(ops) }, func() error {
		s.applyOps(ops)
		return nil
	})
}

// MergeKey implements kv.KeyMerger: a blind write of key whose value is
// the patch applied to key's newest value, computed when the write is
// committed (memkv keeps no patches: its reads are of plain values).
func (s *Store) MergeKey(ctx context.Context, key, patch []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: apply: %w", err)
	}
	if len(key) == 0 {
		return fmt.Errorf("memkv: apply: %w: empty key", kv.ErrInvalid)
	}
	if err := fieldpatch.Check(patch); err != nil {
		return fmt.Errorf("memkv: apply: %w: %w", kv.ErrInvalid, err)
	}
	return s.occ.Commit(nil, nil, func() *occ.WriteSet { return &occ.WriteSet{Points: [][]byte{bytes.Clone(key)}} }, func() error {
		var v []byte
		if e, ok := s.master.Get(entry{key: key}); ok {
			v = fieldpatch.Merge(nil, e.value, patch)
		} else {
			v = fieldpatch.Value(nil, patch)
		}
		s.master.Set(entry{key: bytes.Clone(key), value: v})
		s.publish()
		return nil
	})
}

// CanMerge implements kv.KeyMerger: memkv always merges.
func (s *Store) CanMerge() bool { return true }

// applyOps applies ops to master and publishes the result; the commit lock
// must be held.
func (s *Store) applyOps(ops []kv.Op) {
	for _, op := range ops {
		applyOp(s.master, op)
	}
	s.publish()
}

// Update runs fn in a serializable optimistic transaction, running it
// again when it conflicts (see the package doc).
func (s *Store) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: update: %w", err)
	}
	return occ.Update(ctx, "memkv", func() error { return s.attempt(fn) })
}

// attempt runs fn once on the current snapshot and commits it if its reads
// still hold.
func (s *Store) attempt(fn func(kv.Txn) error) error {
	if s.closed.Load() {
		return errClosed
	}
	var t *tree
	reg := s.occ.Begin(func() { t = s.snap.Load() })
	defer s.occ.End(reg)
	tx := occ.NewTxn(s.occ, reg, &view{t: t}, errTxnEnded)
	defer tx.Drop() // the log may keep its write set, and so the Txn
	defer tx.End()  // also when fn panics
	if err := fn(tx); err != nil {
		return err
	}
	tx.End()
	if tx.Empty() {
		return nil // a read-only transaction read one committed state
	}
	if s.closed.Load() {
		return errClosed
	}
	return s.occ.Commit(reg, tx.Reads(), tx.WriteSet, func() error {
		s.applyOps(tx.Ops())
		return nil
	})
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
		return nil, kv.NotFound("memkv: get", key)
	}
	return cloneValue(e.value), nil
}
