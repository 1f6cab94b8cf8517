package tikvkv

import (
	"context"
	"errors"
	"fmt"

	"github.com/tikv/client-go/v2/oracle"
	"github.com/tikv/client-go/v2/tikv"
	"github.com/tikv/client-go/v2/txnkv/transaction"
	"github.com/tikv/client-go/v2/txnkv/txnsnapshot"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/internal/guard"
)

// Errors of this package, beyond those of package kv.
var (
	// ErrCorrupt is returned for a stored value that tikvkv did not write
	// (it lacks the format byte; see the package doc).
	ErrCorrupt = errors.New("tikvkv: corrupt value")
	// ErrRangeTooLarge is returned by a DeleteRange over more keys than
	// Options.MaxDeleteRangeKeys; the range is left untouched.
	ErrRangeTooLarge = errors.New("tikvkv: range too large to delete in one transaction")
)

var (
	errClosed   = fmt.Errorf("tikvkv: %w", kv.ErrClosed)
	errTxnEnded = fmt.Errorf("tikvkv: transaction ended: %w", kv.ErrClosed)
	errEmptyKey = fmt.Errorf("tikvkv: %w: empty key", kv.ErrInvalid)
)

// tsoMaxBackoff bounds, in milliseconds, how long fetching a timestamp from
// PD may back off (client-go's own bound for transactions).
const tsoMaxBackoff = transaction.TsoMaxBackoff

// Store is a kv.Store on a TiKV cluster. It is safe for concurrent use.
type Store struct {
	kvs   *tikv.KVStore
	owned bool // Close closes kvs (Open), or leaves it to the caller (New)
	opts  Options
	ns    namespace
	g     *guard.Guard
	lanes *lanes
}

var _ kv.Store = (*Store)(nil)

// New returns a Store on an existing client-go KVStore, such as one built by
// tikv.NewTestTiKVStore over client-go's in-process mock cluster. The caller
// keeps ownership of kvs: Close does not close it, so several Stores (with
// different prefixes) may share one KVStore.
func New(kvs *tikv.KVStore, opts ...Option) (*Store, error) {
	if kvs == nil {
		return nil, fmt.Errorf("tikvkv: %w: nil KVStore", kv.ErrInvalid)
	}
	o := buildOptions(opts)
	if err := o.validate(); err != nil {
		return nil, err
	}
	return newStore(kvs, false, o), nil
}

func newStore(kvs *tikv.KVStore, owned bool, o Options) *Store {
	return &Store{kvs: kvs, owned: owned, opts: o, ns: newNamespace(o.Prefix, o.MaxKeySize), g: guard.New(), lanes: newLanes()}
}

// KVStore returns the client-go store underneath, for what the kv contract
// does not cover (region management, GC, metrics).
func (s *Store) KVStore() *tikv.KVStore { return s.kvs }

// Get implements kv.Store: it reads the latest committed value, at a fresh
// timestamp.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if !s.g.Enter() {
		return nil, errClosed
	}
	defer s.g.Exit()
	if err := s.ns.check(key); err != nil {
		return nil, err
	}
	r, err := s.latest(ctx)
	if err != nil {
		return nil, err
	}
	return r.get(ctx, key)
}

// NewIter implements kv.Store. The iterator reads one snapshot, taken at a
// fresh timestamp now, for its whole life (including seeks).
func (s *Store) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if !s.g.Enter() {
		return nil, errClosed
	}
	defer s.g.Exit()
	r, err := s.latest(ctx)
	if err != nil {
		return nil, err
	}
	return newIter(ctx, r, opts)
}

// View implements kv.Store: fn reads a snapshot at a fresh timestamp.
func (s *Store) View(ctx context.Context, fn func(kv.Reader) error) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	r, err := s.latest(ctx)
	if err != nil {
		return err
	}
	defer r.ended.Store(true)
	return fn(r)
}

// Update implements kv.Store with an optimistic transaction, retried on
// write conflicts (see the package doc).
func (s *Store) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	return s.run(ctx, s.opts.LockReads, func(t *txn) error { return fn(t) })
}

// Apply implements kv.Store: one optimistic transaction, retried on write
// conflicts. A DeleteRange scans its range inside the transaction.
func (s *Store) Apply(ctx context.Context, b *kv.Batch) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if b.Len() == 0 {
		return ctx.Err()
	}
	return s.run(ctx, false, func(t *txn) error {
		for _, op := range b.Ops() {
			var err error
			switch op.Kind {
			case kv.OpSet:
				err = t.set(op.Key, op.Value)
			case kv.OpDelete:
				err = t.delete(op.Key)
			case kv.OpDeleteRange:
				err = t.deleteRange(op.Key, op.Value)
			default:
				err = fmt.Errorf("tikvkv: %w: batch operation %v", kv.ErrInvalid, op.Kind)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Close implements kv.Store. It refuses new calls, waits for those in flight
// (so it must not be called from inside Update or View) and, for a Store made
// by Open, closes the client. Iterators left open fail with kv.ErrClosed.
func (s *Store) Close() error {
	if !s.g.Close() {
		return errClosed
	}
	if s.owned {
		if err := s.kvs.Close(); err != nil {
			return fmt.Errorf("tikvkv: close: %w", err)
		}
	}
	return nil
}

// latest returns a reader on a snapshot at a fresh timestamp.
func (s *Store) latest(ctx context.Context) (*reader, error) {
	ts, err := s.timestamp(ctx)
	if err != nil {
		return nil, err
	}
	return &reader{s: s, snap: s.snapshot(s.kvs.GetSnapshot(ts))}, nil
}

// timestamp fetches a timestamp from PD's oracle, honouring ctx.
func (s *Store) timestamp(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	bo := tikv.NewBackofferWithVars(ctx, tsoMaxBackoff, nil)
	ts, err := s.kvs.GetTimestampWithRetry(bo, oracle.GlobalTxnScope)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return 0, ctxErr
		}
		return 0, fmt.Errorf("tikvkv: timestamp: %w", err)
	}
	return ts, nil
}

func (s *Store) snapshot(snap *txnsnapshot.KVSnapshot) *txnsnapshot.KVSnapshot {
	if s.opts.ScanBatchSize > 1 {
		snap.SetScanBatchSize(s.opts.ScanBatchSize)
	}
	return snap
}
