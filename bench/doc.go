// Package bench measures protoql against the ways people store the same data
// by hand (DESIGN.md §8), on the same data, on the same machine, in one run:
//
//   - protoql: the generated API of the social example (socialpb) on
//     pebblekv;
//   - raw Pebble: hand-written code doing the same key operations on the same
//     Pebble store, with keys built by package tuple and values encoded as
//     protoql lays them out (the physical limit: protoql can only add to it);
//   - blob: the whole User marshalled into one key of its own Pebble store,
//     read-modify-write on every change (what people do by hand);
//   - SQLite: modernc.org/sqlite through database/sql, normalized tables
//     (users, sessions), prepared statements, WAL mode.
//
// Every implementation satisfies Impl, and the tests check that all four
// return the same data for every workload. The driver (cmd/benchreport)
// and the Benchmark functions both run the workloads of Workloads.
//
// The concurrency workloads (ConcWorkloads) run with 1, 4 and 16 goroutines
// at once on protoql, raw Pebble and SQLitePool, which satisfy ConcImpl:
// safe for concurrent use, with read-modify-writes made atomic the way each
// engine allows (protoql's optimistic transactions, per-user lock stripes
// on raw Pebble, SQLite's single writing connection). Each column writes
// rows of its own, and the state they hold afterwards is checked against
// every write made (Env.VerifyConc).
//
// The index workloads (IndexWorkloads, the report's Indexes section) run
// on three tables that differ only in their secondary indexes (0, 1 and 3;
// package indexpb): lookups through a unique and a non-unique index, and
// inserts and updates, on protoql, raw Pebble and SQLite, which satisfy
// IndexImpl. Each column has stores of its own; TestIndexImplsAgree checks
// that they find the same rows, refuse the same unique violations, and end
// in the same state (the raw store byte for byte protoql's pairs).
//
// # Durability
//
// All engines run with the same durability, unsynced by default: Pebble
// with pebblekv.WithSync(false) (a commit is in the memtable and queued for
// the WAL when it returns) and SQLite with synchronous=NORMAL in WAL mode (a
// commit is written to the WAL file, fsynced only at checkpoints). Neither
// fsyncs a commit; an OS crash may lose the latest commits of either, and
// both recover to a consistent prefix. Config.Sync runs both synced instead
// (Pebble Sync, SQLite synchronous=FULL): then every write measures the
// disk's fsync, not the libraries.
//
// # Layout
//
// The protoql and raw Pebble implementations share one Pebble store, so
// their reads run over the very same keys; the test TestRawLayout checks
// that the raw encoder writes byte for byte the pairs protoql's Put writes,
// which is also why bulk loading writes both through the raw encoder. The
// blob implementation has its own Pebble store (same options) and SQLite
// its own file.
package bench
