// Package kv is protoql's contract with an ordered bytes-to-bytes store.
//
// Every engine (kv/memkv, kv/pebblekv, kv/remotekv, kv/tikvkv) implements
// [Store] and passes the conformance suite in kv/kvtest. The vocabulary is
// Pebble's: half-open [LowerBound, UpperBound) iterators positioned with
// First, SeekGE/SeekLT and Next; batches of Set, Delete and DeleteRange that
// commit atomically.
//
// # Transactions
//
// [Store.Update] runs a read-write transaction and [Store.View] a read-only
// one on a consistent snapshot. Every engine's Update is optimistic: the
// transaction reads a snapshot and, at commit, is checked against what
// committed since; when the check fails the engine runs the function again
// (after a short random backoff, a bounded number of times) and, when it
// gives up, Update returns an error wrapping [ErrConflict]. So the function
// passed to Update may be called more than once and must not have side
// effects outside the transaction. No engine holds a lock across the
// function: a slow or stalled transaction never blocks other writers, and a
// Store-level call made inside the function (Get, Apply, another Update)
// runs on its own, outside the transaction, instead of waiting for it. A
// transaction that outlives its engine's time limit fails with
// [ErrExpired]. Apply is a blind write: it never conflicts, but a
// transaction that read what it writes conflicts with it.
//
// Isolation, engine by engine:
//
//   - kv/memkv and kv/pebblekv: serializable. The conflict check covers
//     every key the transaction read with Get (found or missing) and every
//     key range its iterators covered, from each seek to where the iterator
//     stopped, so an insert into a scanned range (a phantom) conflicts,
//     and a DeleteRange conflicts with reads of any key in its range.
//     Transactions that only read commit without a check.
//   - kv/remotekv: the isolation of the server's store (above, or TiKV's),
//     with the same retry rule: the server answers a conflict with
//     "restart" and the client's Update runs its function again.
//   - kv/tikvkv: point reads are serializable (each Get joins the
//     conflict check, so read-modify-write and write skew on point reads
//     are prevented), but scans are snapshot isolation: a key inserted into
//     a range the transaction scanned does not make it conflict. Code that
//     decides from a scan (count the rows, then write) must also write or
//     Get a key that every competing writer writes.
//
// # Optional interfaces
//
// An engine may also offer cheaper forms of common calls, each defined as
// exactly what a general call does: [LatestUpdater] (Update without a
// snapshot), [KeyUpdater] (a read-modify-write of one key), [KeySetter]
// (Apply of a one-operation batch) and [KeyMerger] (a blind write of a
// field patch, which the store applies when the key is read); an
// engine's iterators may offer [PairNexter] (Next, Key and Value in one
// call). Callers test for them and fall back to the general call;
// kv/kvtest checks KeyUpdater, KeySetter, KeyMerger and PairNexter on the
// engines that offer them.
//
// # Buffer ownership
//
// Keys and values passed to the store are not retained after the call returns
// (a [Batch] copies them), so callers may reuse their buffers. A value returned
// by Get belongs to the caller. Key and Value of an [Iterator] belong to the
// engine: they are valid only until the next positioning call or Close and
// must not be modified; copy them to keep or change them.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines. An Iterator, a Txn,
// the Reader of View and a Batch are not: each belongs to one goroutine at a
// time (pebblekv's View lends one Pebble iterator to its Gets and
// iterators in turn; remotekv's runs one stream). A Txn and the
// Readers and Iterators obtained from it are valid only inside the function
// passed to Update or View.
//
// # The end of an iterator
//
// An iterator ends with its own Close, or when its owner ends: the Update
// or View whose Txn or Reader made it returns, or, for an iterator from
// [Store.NewIter], the Store is closed. Every engine then behaves the same
// (kv/kvtest checks it):
//
//   - The iterator reports no position, at once, before any further
//     positioning call: Valid is false and Key and Value return nil.
//   - After the owner ended, Error returns an error wrapping [ErrClosed]
//     (unless the iterator had already failed with another error), and so
//     does Close.
//   - After its own Close, Error returns what it returned before (Close
//     again returns the same), but a positioning call (First, Next,
//     SeekGE, SeekLT) returns false and records an error wrapping
//     [ErrClosed], so that reusing a closed iterator fails instead of
//     reading as an empty range.
//
// Closing a Store while other goroutines still use its iterators is not
// a data race on the iterators' state: calls that begin after Close has
// started fail as above (kv/pebblekv's and kv/tikvkv's Close also waits
// for the calls in flight; kv/memkv and kv/remotekv release no memory an
// iterator's call is using). But the
// slices an iterator returned are the engine's memory, which Close
// releases: a Key or Value slice read after Close has started, or a Key
// or Value call that races it (the check that the store is open and the
// caller's read of the slice are not one step), may see memory the engine
// has freed or reused (kv/pebblekv: Pebble's block cache and its pooled
// iterator buffers), not an error. So do not close a Store while any
// goroutine may still use one of its iterators or a Key or Value slice it
// returned: stop those goroutines first (they need not Close their
// iterators; Store.Close closes them), and copy what must outlive the
// store. Making every Key call safe against Close would cost a copy of
// each key, which the engines do not pay. A Txn's or Reader's iterators
// end with the function passed to Update or View, on the caller's own
// goroutine, so the rule concerns [Store.NewIter]'s.
package kv

import (
	"context"
	"errors"
)

// Errors returned by every engine. Engines wrap them with context; test with
// errors.Is.
var (
	// ErrNotFound is returned by Get when the key does not exist.
	ErrNotFound = errors.New("kv: not found")
	// ErrClosed is returned by every call on a closed Store, and by calls on
	// a Txn or Iterator used after its transaction ended, or on an Iterator
	// after its Close (see "The end of an iterator" above).
	ErrClosed = errors.New("kv: closed")
	// ErrConflict is returned by Update when the transaction kept conflicting
	// with concurrent writers and the engine stopped retrying.
	ErrConflict = errors.New("kv: transaction conflict")
	// ErrExpired is returned by the calls of a transaction, and by Update,
	// when the transaction outlived its engine's limit on a transaction's
	// lifetime (or, through kv/remotekv, the server's idle limit). Update
	// does not retry it: running the same function again would take as long.
	ErrExpired = errors.New("kv: transaction expired")
	// ErrInvalid is returned for malformed requests: an empty key, a range
	// whose start is after its end, a seek in the wrong direction.
	ErrInvalid = errors.New("kv: invalid argument")
	// ErrCorrupt is returned when the engine detects that stored data is
	// damaged (a checksum that does not match what it read). The error names
	// what was being read; the store stays open, and reads of other data
	// keep working.
	ErrCorrupt = errors.New("kv: data corruption")
)

// IterOptions bounds and orients an Iterator.
type IterOptions struct {
	// LowerBound is the inclusive lower bound; nil or empty means the start
	// of the keyspace.
	LowerBound []byte
	// UpperBound is the exclusive upper bound; nil or empty means the end of
	// the keyspace. (No key is empty, so an empty upper bound would admit
	// nothing; treating it as absent keeps engines that cannot tell nil from
	// empty, such as a protobuf field on the wire, in agreement.)
	UpperBound []byte
	// Reverse makes the iterator visit keys in descending order: First
	// positions at the largest key below UpperBound and Next moves to smaller
	// keys.
	Reverse bool
}

// Iterator walks the keys of a Reader within its bounds, in one direction.
//
// A fresh iterator is unpositioned: call First or a Seek before Key. Every
// positioning call returns whether the iterator is now at a key (Valid).
// When it returns false, check Error: a false with a nil error is the end of
// the range.
type Iterator interface {
	// First positions at the first key in iteration order: the smallest key
	// >= LowerBound for a forward iterator, the largest key < UpperBound for
	// a reverse one.
	First() bool
	// Next moves one key in the iterator's direction. After a positioning
	// call that returned false (the end of the range, a seek that found
	// nothing) it returns false too.
	Next() bool
	// SeekGE positions a forward iterator at the first key >= key (clamped
	// to the bounds). On a reverse iterator it fails with ErrInvalid.
	SeekGE(key []byte) bool
	// SeekLT positions a reverse iterator at the last key < key (clamped to
	// the bounds). On a forward iterator it fails with ErrInvalid.
	SeekLT(key []byte) bool
	// Valid reports whether the iterator is positioned at a key.
	Valid() bool
	// Key returns the current key; valid until the next positioning call.
	// The caller must not modify it.
	Key() []byte
	// Value returns the current value; valid until the next positioning call.
	// The caller must not modify it.
	Value() []byte
	// Error returns the first error the iterator met, if any.
	Error() error
	// Close releases the iterator and returns Error. It is safe to call more
	// than once. Afterwards the iterator is at no position and positioning
	// calls fail with ErrClosed (see "The end of an iterator" above).
	Close() error
}

// CloseInto closes it and, when *err is nil, sets *err to the Close
// error. Deferred in a function with a named error result
// (defer kv.CloseInto(it, &err)), it makes the iterator's Close error (a
// store that could not release it, or the error it met) the result of a
// read that has no error of its own.
func CloseInto(it Iterator, err *error) {
	if cerr := it.Close(); *err == nil {
		*err = cerr
	}
}

// Reader is the read half of a Store, a Txn or a snapshot.
type Reader interface {
	// Get returns a copy of the value stored under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key []byte) ([]byte, error)
	// NewIter returns an iterator over the keys in the given bounds, or an
	// error wrapping ErrInvalid when LowerBound is after UpperBound. The
	// caller must Close it.
	NewIter(ctx context.Context, opts IterOptions) (Iterator, error)
}

// Writer is the write half of a Txn, and what a Batch records.
type Writer interface {
	// Set stores value under key, replacing any previous value.
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
	// DeleteRange removes every key in [start, end). Unlike iterator
	// bounds, end is a key, not "unbounded": a nil end is the empty key, so
	// [start, nil) is empty.
	DeleteRange(start, end []byte) error
}

// Txn is a read-write transaction: reads see the transaction's own writes.
// Whether an open iterator sees writes made after it was created is up to
// the engine (Pebble's do not); code that needs either answer must reopen
// the iterator. Engines may limit key and value sizes and transaction
// sizes, failing the write (and the transaction) with a wrapped error.
type Txn interface {
	Reader
	Writer
}

// Store is an ordered key-value store.
type Store interface {
	// Reader reads the latest committed state. Two calls may observe
	// different states; use View for a consistent snapshot. One call
	// observes one state: an iterator from NewIter reads the state of its
	// creation for its whole life, across every positioning call (seeks
	// backward included), so a read that needs only one iterator needs no
	// View.
	Reader
	// Apply commits every operation of b atomically, in order, without
	// reading. It does not reset b. An optimistic engine may fail it with
	// ErrConflict, like Update.
	Apply(ctx context.Context, b *Batch) error
	// Update runs fn in a read-write transaction and commits it if fn
	// returns nil. fn may run more than once (see the package doc); its
	// error is returned unchanged.
	Update(ctx context.Context, fn func(Txn) error) error
	// View runs fn on a consistent read-only snapshot. fn's error is
	// returned unchanged, and a View whose fn returns nil returns nil:
	// ending the snapshot closes the iterators fn left open without
	// reporting their Close errors, as every engine of this module does
	// (close an iterator to see its error; on kv/remotekv, the server's
	// error in closing an iterator after the view's last read reaches
	// only the server's log). Only the errors of starting
	// the snapshot (a closed store, an ended context, an engine's failure
	// to open it) are View's own.
	View(ctx context.Context, fn func(Reader) error) error
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// LatestUpdater is implemented by stores that can run a read-write
// transaction without taking a snapshot when it starts, which is most of
// the cost of a short read-modify-write on some engines (a Pebble snapshot
// is linked into the database under its mutex, and closing it runs the
// compaction picker).
//
// UpdateLatest is Update, except that each read sees the newest committed
// state when it runs, not one snapshot taken when the transaction started:
// two reads may observe different states while fn runs. The commit is
// validated as Update's is, so a transaction that commits read one state
// (the one when it started) and is serializable; and when fn returns an
// error, its reads are validated first, and fn runs again if they
// conflicted, so the error returned also comes from one state. fn must
// therefore act on what it reads only through its writes and its error,
// with no other effects; unlike Update's, its reads also see what calls
// to the store made from inside fn committed.
type LatestUpdater interface {
	UpdateLatest(ctx context.Context, fn func(Txn) error) error
}

// KeyUpdater is implemented by stores that can run a read-modify-write of
// one key for less than a general transaction costs (no write buffer, no
// read set to build, no snapshot).
//
// UpdateKey reads the newest committed value of key and calls fn with it
// (a nil val and found false when key is missing). When fn returns write
// true, out is stored under key, atomically with the read: if another
// commit wrote key (or deleted a range holding it) after the read, the
// write does not happen and fn runs again on the newer value, retried as
// Update retries, ending with an error wrapping ErrConflict. So
//
//	UpdateKey(ctx, key, fn)
//
// has exactly the isolation of an Update whose function Gets key, calls
// fn and Sets out when write: no update of key is lost. fn's error is
// returned unchanged and nothing is written; fn may run more than once
// and must have no effects outside its results (see the package doc).
//
// val belongs to the store and is valid only until fn returns: fn must
// not modify or keep it. out (which may alias val) is copied before
// UpdateKey returns and not retained.
type KeyUpdater interface {
	UpdateKey(ctx context.Context, key []byte, fn func(val []byte, found bool) (out []byte, write bool, err error)) error
}

// KeySetter is implemented by stores that can write or delete one key for
// less than Apply of a one-operation [Batch] costs (no Batch to fill, no
// operations to copy).
//
// SetKey stores value under key and DeleteKey removes key (a missing key
// is not an error): exactly Apply of a Batch holding that one Set or
// Delete. Each is a blind write, ordered with the store's other commits
// as Apply is: it never conflicts, but a transaction that read key, or
// iterated over a range holding it, and commits after it conflicts with
// it. An empty key fails with an error wrapping ErrInvalid, a cancelled
// ctx with its error, a closed store with ErrClosed; none of them writes
// anything. key and value are not retained after the call returns.
type KeySetter interface {
	SetKey(ctx context.Context, key, value []byte) error
	DeleteKey(ctx context.Context, key []byte) error
}

// KeyMerger is implemented by stores that can write a field patch to one
// key without reading it: a blind write that the store applies to the
// key's value when the key is read (package kv/fieldpatch defines the
// patch: remove some field numbers' records from the value, a protobuf
// fragment, and append new ones).
//
// MergeKey stores under key the result of applying patch to key's newest
// value (to a missing value when key is missing, so that key then exists
// holding the patch's appended bytes): exactly Apply of a Batch holding
// one Set of that result, had the caller read the newest value at the
// moment of the write. Like SetKey it is a blind write, ordered with the
// store's other commits as Apply is: it never conflicts, but a
// transaction that read key, or iterated over a range holding it, and
// commits after it conflicts with it. A patch that fieldpatch.Check
// refuses fails with an error wrapping ErrInvalid, as do an empty key, a
// cancelled ctx with its error and a closed store with ErrClosed; none of
// them writes anything. Every read (Get, iterators, transactions) sees
// the merged value, never a patch. key and patch are not retained.
//
// CanMerge reports whether MergeKey is available: a store may implement
// the interface and still not merge (kv/pebblekv on a store created with
// another merge operator). When it reports false, MergeKey fails with an
// error wrapping errors.ErrUnsupported, writing nothing, and callers
// read-modify-write instead.
type KeyMerger interface {
	MergeKey(ctx context.Context, key, patch []byte) error
	CanMerge() bool
}

// PairNexter is implemented by iterators that can move to the next pair
// and return it in one call, for less than Next, Key and Value cost as
// three calls through the Iterator interface (a scan makes them for
// every pair).
//
// NextPair is exactly
//
//	ok = it.Next()
//	if ok {
//		key, value = it.Key(), it.Value()
//	}
//
// with the same move, errors (Error after a false ok), buffer ownership
// and end: an iterator whose owner has ended or that was closed moves
// nowhere, returns false and records the error Next records. The key and
// value are the engine's, valid until the next positioning call, as
// Key's and Value's are. Callers test for it once per iterator and fall
// back to Next; kv/kvtest checks it on the engines that offer it.
type PairNexter interface {
	NextPair() (key, value []byte, ok bool)
}
