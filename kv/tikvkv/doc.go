// Package tikvkv is protoql's distributed engine: a kv.Store on a TiKV
// cluster, through the transactional API of github.com/tikv/client-go/v2.
//
// [Open] connects to a cluster by its PD endpoints and owns the connection;
// [New] wraps a client-go KVStore the caller already has (the tests use one
// on client-go's in-process mock cluster).
//
// # Keys and values
//
// Keys are stored as Options.Prefix followed by the caller's key, so several
// databases (or other applications) can share a cluster; prefixes of stores
// sharing a cluster must not be prefixes of one another. Keys are at most
// Options.MaxKeySize bytes (default 8 KiB): an unprefixed reverse scan must
// start from a real key (see below), and the bound lets tikvkv name one above
// every key it can have written.
//
// Every value is stored with one leading format byte. TiKV's transactional
// API cannot hold an empty value (client-go refuses it and reads it back as a
// deleted key), and protoql writes empty values for objects without inline
// fields. A value without the byte, written by another client, reads as an
// error wrapping [ErrCorrupt].
//
// # Isolation and conflicts
//
// Every read is a TiKV MVCC snapshot read at a timestamp from PD. Store.Get
// reads at a fresh timestamp; an iterator from Store.NewIter reads one
// snapshot, taken when it is created, for its whole life (seeks included);
// View runs fn on one snapshot.
//
// Update runs fn in an optimistic transaction (Percolator two-phase commit):
// reads come from the snapshot at its start timestamp merged with its own
// writes, writes are buffered in client-go, and the commit fails with a write
// conflict if another transaction committed one of its keys after it
// started. Update then runs fn again on a fresh snapshot, after a jittered
// exponential backoff, up to Options.Retries times, and finally returns an
// error wrapping kv.ErrConflict and client-go's conflict error. That is
// snapshot isolation with write-write conflict detection: a read-modify-write
// of a key never loses a concurrent update.
//
// With Options.LockReads (the default), every key read with Txn.Get also
// joins the conflict set, as a lock-only mutation that TiKV checks at
// prewrite exactly like a write (and that writes nothing): a transaction
// whose point reads were overwritten, or whose missing keys were inserted,
// before it committed retries instead of committing a decision made on stale
// data. This is cheap (one more key in the commit, no extra round trip) and
// makes Update serializable for transactions whose reads are point Gets.
// Keys visited by iterators are not added, and nothing guards the gaps
// between them, so range reads keep snapshot isolation: a transaction that
// scans a range and writes elsewhere may commit although a concurrent one
// changed the range (write skew, phantoms). Locking every scanned key would
// make large scans as expensive as writes and would still miss insertions.
// An Update that writes nothing commits nothing: its reads came from one
// snapshot, which is all a read-only transaction needs.
//
// Optimistic transactions are unfair under contention: one that lost a
// conflict is no likelier to win the next time. So, within one Store, a
// transaction retries holding a "lane" of the key it lost on, and other
// transactions of the Store that write or lock a key of a held lane wait for
// it before committing instead of racing it (see lanes in retry.go). Lanes
// are a local heuristic: other processes ignore them.
//
// Apply commits a batch as one optimistic transaction, retried like Update.
//
// # DeleteRange
//
// TiKV's transactional API has no range deletion. DeleteRange, in a Batch or
// a Txn, scans the range (keys only, merged with the transaction's own
// writes) and deletes each key in the transaction, so it is atomic with the
// rest of the transaction, conflicts like any write and is seen by snapshots
// as of its commit. Its cost grows with the number of keys, and a range of
// more than Options.MaxDeleteRangeKeys keys (default 1<<20) fails with
// [ErrRangeTooLarge] before deleting anything. client-go's KVStore.DeleteRange
// and UnsafeDestroyRange are not used: they bypass transactions and MVCC,
// removing every version at once, so they are not atomic with a batch, are
// invisible to conflict detection, break snapshots that still read the range,
// and (UnsafeDestroyRange) require that the range is never used again.
//
// # Iterators
//
// client-go's iterators go one way from a fixed start, so First, SeekGE and
// SeekLT open new ones at the target (a TiKV scan request each); Next walks
// the open one, which fetches Options.ScanBatchSize pairs per request and
// crosses region boundaries itself. client-go cannot scan backwards from
// "the end of the keyspace" across regions (an empty end key locates the
// first region), so a reverse scan without an upper bound starts at the end
// of the prefix, or, without a prefix, at 0xFF repeated MaxKeySize+1 times.
//
// Inside Update, an iterator merges the snapshot with the transaction's
// writes. client-go's write buffer invalidates its iterators on every write,
// so after the transaction writes, the iterator reopens its view of the
// buffer just past its current key: unlike Pebble's, an iterator sees the
// transaction's writes made after it was opened, for keys it has not reached
// yet. Key and Value stay valid until the next positioning call either way.
//
// # Limits
//
// A transaction holds its writes in client memory until it commits: one
// entry (key and value) is at most Options.EntrySizeLimit (default 6 MiB,
// under TiKV's 8 MiB raft-entry-max-size) and a transaction's writes at most
// Options.TxnSizeLimit (default 100 MiB). A larger entry is refused; a
// write that takes the transaction past its limit fails and leaves the
// transaction unable to commit. Snapshots older than the cluster's
// GC life time (tikv_gc_life_time, 10 minutes by default) can no longer be
// read, so long-lived iterators, Views and Updates fail; client-go also
// refuses to commit a transaction that started more than 24 hours earlier.
//
// # Differences from Pebble
//
// pebblekv and memkv are optimistic too, and fully serializable: their
// conflict check also covers the key ranges a transaction's iterators
// visited, so phantoms and write skew through scans conflict there and not
// here (kvtest's phantom cases check both behaviours). Here Apply may fail
// with kv.ErrConflict as well (there a blind write never does). Every call is a
// network round trip or more (plus a timestamp from PD), so batch work into
// Apply and Update. DeleteRange costs a scan and a write per key, not one
// range tombstone, and is bounded. Transactions have size limits. A commit
// is durable once TiKV's Raft groups have replicated it to a majority.
//
// # Optional interfaces
//
// The store offers none of kv's optional interfaces (kv.KeyUpdater,
// kv.KeySetter, kv.KeyMerger...). TiKV has no merge operator for
// kv.KeyMerger's field patches, so protoql's inline setters
// read-modify-write in a transaction on it.
//
// # The nested module and gRPC
//
// client-go needs grpc v1.65 or older (it uses
// experimental.WithRecvBufferPool, gone in v1.66), while the main protoql
// module requires v1.85 (for buf). So this package is its own module, which
// reaches the main one through a replace directive, and its go.mod replaces
// google.golang.org/grpc with v1.65.0: replace directives override every
// requirement in the build, including the main module's. protoql's server
// and runtime packages build with grpc v1.65.0 as well. A program that
// imports this package needs the same grpc replace in its own go.mod.
//
// client-go logs through github.com/pingcap/log (zap); configure it there.
package tikvkv
