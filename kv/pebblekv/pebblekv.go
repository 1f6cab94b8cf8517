// Package pebblekv is protoql's default engine: an embedded
// github.com/cockroachdb/pebble/v2 database in a local directory.
//
// # Why Pebble v2
//
// Pebble is CockroachDB's LSM storage engine, and the kv contract already
// speaks its vocabulary (half-open bounds, SeekGE/SeekLT, batches with
// DeleteRange), so the mapping is thin. v2 is the maintained line: v1 gets
// only critical fixes, while v2 has the columnar sstable format, WAL sync
// chunks that tell a torn WAL tail from corruption, and current fixes, and it
// builds with protoql's Go toolchain. New stores use pebble.FormatNewest.
//
// # Transactions and isolation
//
// Update is serializable and optimistic: no lock is held while the
// caller's function runs, so transactions overlap, a stalled one blocks
// nobody, and a Store-level call made inside an Update's function runs as
// a transaction of its own instead of waiting. Each attempt reads a Pebble
// snapshot and records what it read: the point keys (found or missing) and
// the key ranges its iterators covered — from each seek to where the
// iterator stopped, so a scan stopped early claims only what it visited.
// Its writes go to a private ordered buffer that its reads see (merged with
// the snapshot; an iterator sees the writes made before it was opened).
// The commit takes a short commit lock, checks the read set against the
// write sets of the commits made since the snapshot (a log kept only while
// some live transaction's snapshot precedes them), and, if none wrote a key
// it read or a key inside a range it scanned, gives the commit its place in
// the commit order and releases the lock; the writes are then committed as
// a Pebble batch, merged with the other commits ordered while the previous
// batch was committed into one batch (one WAL record, one memtable
// insertion), in commit order, so that Pebble's order is the commit order
// (see package kv/internal/occ's doc for why that keeps the history
// serializable, and how a snapshot is kept from missing a commit being
// applied). Otherwise the attempt is discarded and the function runs
// again after a random backoff (starting at the failed attempt's duration,
// doubling up to 50 ms), at most 100 times, after which Update fails with
// kv.ErrConflict; errors of the function itself are never retried. So a
// read-modify-write loses no update, write skew and phantoms are
// prevented, and fn may run more than once. A transaction that wrote nothing commits without a check: its
// snapshot is a state of the serial order.
//
// UpdateLatest (kv.LatestUpdater) is Update without the Pebble snapshot,
// which is most of the cost of a short read-modify-write (the snapshot is
// linked into the database under its mutex, and closing it runs the
// compaction picker): each read sees the newest committed state. The read
// set is recorded and validated against the commits since the attempt
// began, as Update's is, so whatever a read saw beyond that point is a
// conflict; and the function's error is returned only after the same
// check, so it too comes from one state. protoql's typed inline setters
// use it when their object has an index or lies apart.
//
// UpdateKey (kv.KeyUpdater) is UpdateLatest reduced to one point read and
// one write: it registers like UpdateLatest's transactions, reads the key
// from the database, and commits the function's value with the key as its
// whole read set, so a write of the key committed after the registration
// makes it conflict and run again; it builds no transaction, write buffer
// or read-set copy, and its registration and commit item are pooled.
// protoql's typed inline setters use it for an object with no index and
// nothing apart: their update reads and writes the object's own key only.
//
// SetKey and DeleteKey (kv.KeySetter) are Apply of a one-operation
// batch without the kv.Batch: the Pebble batch is built from the key and
// value, and the commit is logged with the key as its write set. The
// commit item and its Pebble batch come from one pool of the store's (an
// item keeps its batch, reset after a successful commit). protoql's typed
// breakout setters use them for a field with no index and nothing apart.
//
// MergeKey (kv.KeyMerger) writes a field patch (package kv/fieldpatch) as
// a Pebble merge operand, logged with the key as its write set as SetKey's
// write is; the store's merge operator, MergerName, applies patches when
// the key is read, and compactions compose them. protoql's typed setters
// of number, bool and enum inline fields use it where they would use
// UpdateKey, so they read nothing. Every 8th merge of a key is made a
// read-modify-write (merge.go), so that a read merges a bounded number of
// patches. A store created by protoql v0.1.0, with Pebble's default
// merger, is opened with that merger and cannot merge (CanMerge false;
// see MergerName).
//
// Apply is a blind write: it is never checked and never fails with a
// conflict, but it is logged, so it conflicts with a transaction that read
// what it writes; a DeleteRange (blind or in a transaction) conflicts with
// a read of any key in its range. An attempt that runs longer than
// Options.MaxTxnLifetime (default one minute) fails with kv.ErrExpired and
// stops pinning the commit log. View reads one point in time (one Pebble
// iterator opened when it starts, lent to its reads in turn, and clones of
// it: cheaper than a Pebble snapshot) and never takes the commit lock.
// The iterators of a View and of the Store implement kv.PairNexter (Next,
// Key and Value in one call, for a scan's loop); an Update's are occ's
// merged iterators, which do not.
//
// # Durability and group commit
//
// With Options.Sync (the default), a commit returns only when its WAL record
// is fsynced. A group of commits is committed without waiting for the
// fsync; after that the committer writes an empty synced WAL record
// (pebble.DB.LogData with pebble.Sync) and waits for it. Pebble's
// WAL is a single ordered log that syncs in order (and syncs the old log
// before switching to a new one), so when that later record is durable, the
// commit is too; concurrent committers share fsyncs instead of queueing
// behind one another's. This changes no visibility guarantee: Pebble itself
// makes a commit visible before its fsync completes (a transaction that
// read such a commit and commits after it waits for its own, later sync).
// When the Pebble options configure WAL failover, whose ordering across two
// directories pebblekv does not rely on, each group's commit fsyncs
// instead (still once for the whole group).
//
// # DeleteRange
//
// A DeleteRange covering at most 64 keys is written as point deletions of
// those keys, read when its group is committed, after every earlier commit
// (so none can appear meanwhile);
// larger ones are Pebble range tombstones. Each range tombstone in a
// memtable makes every new iterator re-fragment all of the memtable's
// tombstones until it is flushed, and protoql deletes many small ranges (a
// Put replaces an object's key range), so tombstones for them would make
// reads slower as the memtable fills. CockroachDB uses the same heuristic.
//
// # Recovery of the write-ahead log
//
// Open replays the WAL. Pebble has no recovery-mode setting: an older WAL
// must be intact, and the newest may end in a damaged record, where replay
// stops (a power loss during a write leaves that). A flipped byte in the
// newest WAL's last 32 KiB block looks the same to Pebble, so it would open
// silently without every record after the damage, acknowledged ones
// included. pebblekv reads the newest WAL first and never lets that pass
// silently: with Options.WALRecovery = WALPointInTime (the default) it opens
// and logs an error naming the log, the offset and the bytes dropped; with
// WALStrict it refuses to open, with an error wrapping kv.ErrCorrupt. A log
// that simply stops (followed by nothing, or by preallocated zeros), as a
// crash between writes or a clean Close leaves it, opens quietly. The check
// costs one more sequential read of the newest WAL at Open (at most about a
// memtable's worth), which Pebble's replay then finds in the page cache.
//
// # Corruption
//
// A checksum mismatch found while reading an sstable is an error, not an
// exit: the read (Get, an iterator, a transaction's read) fails with an
// error wrapping kv.ErrCorrupt that names the damaged file and the key
// range it holds, the event is logged through the Pebble logger's Errorf,
// and the store keeps serving every other key. Pebble's own default for
// this event is Logger.Fatalf, which exits; Options.Pebble may install its
// own EventListener.DataCorruption instead. Logger.Fatalf is still fatal:
// Pebble calls it only for broken invariants of its own and failed MANIFEST
// writes, after which it cannot continue.
//
// # Buffer ownership and concurrency
//
// Keys and values are copied into Pebble batches (and into a transaction's
// write buffer); values returned by Get are
// copies the caller owns. Iterator keys and values point into Pebble's
// memory, valid until the next positioning call, and must not be modified.
// A Store is safe for concurrent use; Iterators, Txns and Readers belong to
// one goroutine.
//
// # Close
//
// Close refuses new calls, waits for the calls in flight (including running
// Updates and Views), closes any iterator still open and then the database.
// It must not be called from inside an Update or View function, which it
// would wait for forever. Every call after Close, including one on an
// iterator left open, fails with kv.ErrClosed.
package pebblekv

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/internal/guard"
)

var (
	errClosed   = fmt.Errorf("pebblekv: %w", kv.ErrClosed)
	errTxnEnded = fmt.Errorf("pebblekv: transaction ended: %w", kv.ErrClosed)
	// errIterClosed is the error of an iterator's positioning calls after
	// its Close.
	errIterClosed = fmt.Errorf("pebblekv: iterator closed: %w", kv.ErrClosed)
)

// Store is a kv.Store backed by a Pebble database. It is safe for concurrent
// use.
type Store struct {
	db    *pebble.DB
	g     *guard.Guard
	write writer

	// closing is set when Close starts, before the guard closes: what a
	// Store-level iterator's Key and Value check (one load, where the
	// guard's Closed is a call through its pointer; iterator.ended).
	closing atomic.Bool

	iters iterSet // open Store-level iterators, closed by Close

	// merges counts MergeKey's merges (merge.go); nil when the store's
	// merge operator is not MergerName's, so that it cannot merge.
	merges atomic.Pointer[mergeCounts]
}

var (
	_ kv.Store         = (*Store)(nil)
	_ kv.LatestUpdater = (*Store)(nil)
	_ kv.KeyUpdater    = (*Store)(nil)
	_ kv.KeySetter     = (*Store)(nil)
	_ kv.KeyMerger     = (*Store)(nil)
)

// Open opens the Pebble database in dir, creating it if needed.
func Open(dir string, opts ...Option) (*Store, error) {
	o := DefaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	po, cache := o.pebbleOptions()
	if cache != nil {
		defer cache.Unref() // Pebble takes its own reference
	}
	if o.Sync && po.DisableWAL {
		return nil, fmt.Errorf("pebblekv: open %s: %w: Sync needs the WAL, which the Pebble options disable", dir, kv.ErrInvalid)
	}
	if err := checkWALTail(po, dir, o.WALRecovery, o.logger(po)); err != nil {
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	canMerge := chooseMerger(po, dir)
	var counts atomic.Pointer[mergeCounts] // set once the store exists; a flush before finds none
	po.EventListener = flushListener(po.EventListener, &counts)
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, openError(dir, err)
	}
	s := &Store{db: db, g: guard.New()}
	s.write.init(db, po.Comparer, o.Sync, po.WALFailover == nil, o.MaxTxnLifetime)
	if canMerge {
		c := newMergeCounts(countRoom(po))
		s.merges.Store(c)
		counts.Store(c)
	}
	return s, nil
}

// DB returns the underlying Pebble database, for benchmarks and diagnostics.
// The caller must not close it, and writes made through it bypass the
// conflict checks, so they break Update's serializability.
func (s *Store) DB() *pebble.DB { return s.db }

// Metrics returns Pebble's metrics, or nil after Close.
func (s *Store) Metrics() *pebble.Metrics {
	if !s.g.Enter() {
		return nil
	}
	defer s.g.Exit()
	return s.db.Metrics()
}

// Get returns a copy of the latest committed value of key.
func (s *Store) Get(_ context.Context, key []byte) ([]byte, error) {
	if !s.g.Enter() {
		return nil, errClosed
	}
	defer s.g.Exit()
	return get(s.db, key)
}

// NewIter returns an iterator over the state committed when it is called.
// The store tracks it until it is closed; if the store closes first, the
// iterator is closed with it and its calls fail with kv.ErrClosed. Its Key
// and Value slices point into Pebble's memory, which Close releases: do
// not close the store while a goroutine may still use the iterator or a
// slice it returned (see "The end of an iterator" in package kv).
func (s *Store) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if !s.g.Enter() {
		return nil, errClosed
	}
	defer s.g.Exit()
	i, err := newIter(ctx, s.db, opts)
	if err != nil {
		return nil, err
	}
	i.store, i.ended = s, &s.closing
	s.iters.add(i)
	return i, nil
}

// Apply commits b's operations atomically, in order.
func (s *Store) Apply(ctx context.Context, b *kv.Batch) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblekv: apply: %w", err)
	}
	if b == nil || b.Len() == 0 {
		return nil
	}
	if err := s.write.apply(nil, nil, nil, b.Ops(), b.Size()+16*b.Len()); err != nil {
		return fmt.Errorf("pebblekv: apply: %w", err)
	}
	return nil
}

// Update runs fn in a serializable optimistic transaction, running it again
// when it conflicts (see the package doc).
func (s *Store) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblekv: update: %w", err)
	}
	return s.write.update(ctx, fn, false)
}

// UpdateLatest implements kv.LatestUpdater: Update without a Pebble
// snapshot, each read seeing the newest state; the reads are validated
// before fn's error is returned, as at commit.
func (s *Store) UpdateLatest(ctx context.Context, fn func(kv.Txn) error) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblekv: update: %w", err)
	}
	return s.write.update(ctx, fn, true)
}

// SetKey implements kv.KeySetter: Apply of a batch holding one Set,
// without the batch.
func (s *Store) SetKey(ctx context.Context, key, value []byte) error {
	return s.setKey(ctx, key, value, opSet)
}

// DeleteKey implements kv.KeySetter: Apply of a batch holding one
// Delete, without the batch.
func (s *Store) DeleteKey(ctx context.Context, key []byte) error {
	return s.setKey(ctx, key, nil, opDelete)
}

// enterKey begins a single-key write (setKey, MergeKey): it enters the
// store's guard, which the caller then exits, and refuses a cancelled
// ctx and the empty key with Apply's errors, word for word.
func (s *Store) enterKey(ctx context.Context, key []byte) error {
	if !s.g.Enter() {
		return errClosed
	}
	err := ctx.Err()
	switch {
	case err != nil:
		err = fmt.Errorf("pebblekv: apply: %w", err)
	case len(key) == 0:
		err = fmt.Errorf("pebblekv: apply: %w: empty key", kv.ErrInvalid)
	default:
		return nil
	}
	s.g.Exit()
	return err
}

// setKey is SetKey (DeleteKey with op opDelete). Its errors are Apply's, word
// for word (a caller falling back to Apply reports the same), but for the
// empty key, which a kv.Batch refuses before Apply.
func (s *Store) setKey(ctx context.Context, key, value []byte, op keyOp) error {
	if err := s.enterKey(ctx, key); err != nil {
		return err
	}
	defer s.g.Exit()
	if err := s.write.setKey(key, value, op); err != nil {
		return fmt.Errorf("pebblekv: apply: %w", err)
	}
	return nil
}

// UpdateKey implements kv.KeyUpdater: a read-modify-write of one key,
// validated at commit as Update's transactions are, without their
// write buffer or read set.
func (s *Store) UpdateKey(ctx context.Context, key []byte, fn func(val []byte, found bool) (out []byte, write bool, err error)) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblekv: update: %w", err)
	}
	if len(key) == 0 {
		return fmt.Errorf("pebblekv: update: %w: empty key", kv.ErrInvalid)
	}
	return s.write.updateKey(ctx, key, fn)
}

// View runs fn on the state of the database when it is called: its reads
// are clones of one iterator opened then (pointread.go).
func (s *Store) View(ctx context.Context, fn func(kv.Reader) error) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblekv: view: %w", err)
	}
	pr, err := newPointReader(ctx, s.db)
	if err != nil {
		return fmt.Errorf("pebblekv: view: %w", wrapCorrupt(err))
	}
	v := &view{scope{r: pr}}
	defer func() {
		v.end()
		_ = pr.close()
	}()
	return fn(v)
}

// Close waits for the calls in flight, closes the iterators left open and
// then the database. It returns kv.ErrClosed if the store is already closed.
func (s *Store) Close() error {
	s.closing.Store(true) // the iterators' Key and Value answer nil from now on
	if !s.g.Close() {
		return errClosed
	}
	// No call is in flight any more, so no iterator is being added,
	// removed or used: close the Pebble iterators of those left open (Pebble
	// refuses to close a DB with open iterators); their owners see
	// kv.ErrClosed from now on.
	s.iters.drain(func(i *iterator) { _ = i.it.Close() })
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblekv: close: %w", err)
	}
	return nil
}

// reader is what Pebble's DB, indexed Batch and Snapshot have in common.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error)
}

func get(r reader, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("pebblekv: get: %w: empty key", kv.ErrInvalid)
	}
	v, closer, err := r.Get(key)
	if err == pebble.ErrNotFound {
		return nil, kv.NotFound("pebblekv: get", key)
	}
	if err != nil {
		return nil, fmt.Errorf("pebblekv: get %s: %w", kv.KeyText(key), wrapCorrupt(err))
	}
	out := append(make([]byte, 0, len(v)), v...)
	_ = closer.Close()
	return out, nil
}
