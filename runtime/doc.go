// Package runtime stores protobuf messages as many small key-value pairs and
// reads them back, following the layout that package schema decides.
//
// # Write path
//
// Put decomposes a message: the object's own key holds its inline fields;
// every breakout field, object field and map entry gets its own key under its
// parent's (DESIGN.md §3). Put replaces the object atomically: one batch
// deletes the object's key range and writes all of its pairs. Breakout
// setters and map-entry writes are blind single-key (or single-range) writes
// that neither read nor touch the parent's value; inline setters
// read-modify-write the small parent value inside a transaction.
//
// One deviation from DESIGN.md §4, which has every inline setter read and
// rewrite the value: on a store that can merge (kv.KeyMerger: kv/pebblekv
// stores created since protoql.fieldpatch.v1, kv/memkv), a typed setter
// of a number, bool or enum inline field (a generated ….Set, outside
// DB.Update) of an object with no index on its inline fields and nothing
// stored apart writes blind: a field patch (kv/fieldpatch: remove the
// field, or every member of its oneof, and append its new encoding, none
// for a zero value without presence) that the store applies when the key
// is read. Its result is the read-modify-write's, up to the order of the
// fields in the value, with the same validation before anything is
// written, the upsert of a missing object and last-writer-wins; it costs
// no read, so its cost does not grow with the store (bench/README.md,
// growth curve). What it does not check: the value-size limit of the
// whole value (a number adds at most 15 bytes to it), and a stored value
// that is corrupt, which a read-modify-write refuses to update and a
// patch leaves corrupt (the merge keeps the damage visible to every
// reader instead of failing). Strings, bytes, messages, Clear,
// UpdateInline and setters inside a transaction read-modify-write; so
// does every setter on kv/remotekv, kv/tikvkv and a pebblekv store created
// by protoql v0.1.0 (Pebble's "pebble.concatenate" merger).
//
// Every write path stores only what the read path accepts: extensions and
// unknown fields with free numbers are kept in the object's value and read
// back; unknown fields carrying a declared field's number, strings that
// protobuf requires to be UTF-8 but are not (keys included), and keys or
// values over [MaxKeySize] or [MaxValueSize] are refused with an error
// wrapping [ErrInvalid] (a field patch's whole value excepted, as above). A refused write changes nothing. Reads apply the
// same rules to what is stored: a key whose string column or map key is
// not the UTF-8 its field requires (only corruption or a foreign writer
// stores one) fails every read of it, whole or projected, typed or
// dynamic, with a [CorruptError] naming the key (schema.Column.Value
// refuses it), never a message that protobuf-go would refuse to marshal.
// The repository's docs/edge-cases.md describes these cases for users.
//
// A map or object field of a row may be stored apart from the row, in a
// key space of its own (schema.Field.Apart; apart.go): Put and Delete of
// the row delete its apart ranges in the same batch, and a write under an
// apart field of a missing row creates the row's key, in a transaction.
//
// # Read path
//
// Reading any object, or any part of one, is one range scan. Reassembly
// streams: keys arrive in order, each object's wire bytes are built on a
// stack of frames (one per nesting level) and a row is emitted as soon as its
// key range ends, so memory is bounded by one object, not by the scan. Values
// are concatenated with protobuf length framing and unmarshalled once per
// emitted message; for generated Go types, the entries of string-keyed
// message maps are taken out of those bytes and assigned directly (a
// sized map, the values allocated together, each decoded by
// proto.Unmarshal), which is what proto.Unmarshal would build, without its
// reflective map decoding (decode.go).
//
// One engine serves every read. Get, Scan, ScanMap, the counts and Query
// are all executions of the same executor; a typed read is a query whose
// projection selects the whole object, with no limits and no cursors. An
// execution steps through units (rows, or map entries) of a key range in
// the scan's direction and reads each with one forward iterator: the
// object's own pair, then its selected children in field-number order,
// which is key order, seeking past what is not selected. A child stored
// apart is read with a walker over its own key space that presents its
// keys as the colocated ones, so everything above the walkers (assembly,
// limits, cursors, resumption) sees one key order either way. Forward, the
// step to the next unit is a seek that costs nothing once the unit was
// read. In reverse, a second, reverse iterator finds each unit with one
// key, and the forward iterator reads it in ascending order as a forward
// scan would: a reverse query holds one object at a time and costs one
// extra seek per unit. A reverse typed scan, which reads whole units and
// has no limits to cut them, steps the same way but reads each unit with
// the reverse iterator itself, holding that one object's pairs, so it
// seeks no more than a forward one. The iterators are wrapped to count every key they
// land on (for limits and telemetry), to check the context, and to
// remember the keyless gap behind them, so seeking to a key already
// passed costs nothing. GetValue is a point read.
//
// A typed row scan with ScanOptions.Fields reads with the projection of
// those fields, as a query would, so it seeks past the maps and objects it
// does not return; with ScanOptions.Reuse it decodes every row into one
// message, valid until the next row. A query's row cursors are signed
// only when Result.Cursor is called; a map page's, once per page cut
// short.
//
// Every key and value read is checked against the schema: an unknown key
// element, a non-canonical key, a value holding a field that is stored
// elsewhere or with the wrong wire type is an error wrapping [ErrCorrupt]
// that names the key. Nothing is silently dropped.
//
// # Sequences and their errors
//
// The reads that stream (Scan, ScanMap, Query, and the typed handles'
// Scan and an index's Find and Scan) return an iter.Seq2 of values and
// errors. An error is a sequence's last element: nothing is yielded after
// it, whether the loop breaks there or ranges on, so a loop that returns
// on the first error misses nothing. A loop that breaks early ends the
// read; an error the read then meets (an iterator's Close failing) has no
// loop left to go to and is dropped.
//
// # Query limits and large rows
//
// A query call is bounded by the read limits of a query.Limits (rows, keys and
// bytes read; see WithLimits) and by its context, both checked on every key,
// inside a row as well as between rows; the typed Get, Scan and ScanMap check
// the context on every key too. A limit can fall inside a row: the row is then
// returned as far as it was read, marked Result.Partial, and the LimitError's
// cursor resumes inside it, so the next call starts with the rest of that row
// and every stored pair reaches the caller once (MergeRow joins the pieces). A
// call's memory is therefore bounded by MaxBytes plus one stored pair, however
// large a row is. WithRowChunk goes further and streams every large row in
// pieces of a given size even without a limit. Rows whose projection selects a
// join are never cut: their join targets are read once the row is complete, so
// such a row must fit in the limits whole.
//
// A cursor that resumes inside a row holds, after the row key, a 0x00
// marker, the number of entries started in each map scan on the path of
// the last pair returned (so first: on a map keeps counting across calls)
// and the rest of that pair's key. The secret that signs cursors is read
// or created by Open, so no query writes.
//
// # Messages
//
// Results are of the Go type linked into the program when the schema given
// to Open comes from it; otherwise (a DB opened on its stored schema alone)
// they are dynamicpb messages.
//
// # Stored schema
//
// Open stores the catalog's FileDescriptorSet under the reserved metadata
// prefix (key byte 0x00) and, on later opens, checks the new schema against
// the stored one with schema.CheckCompatible before anything is written.
//
// # Transactions
//
// [DB.Update] is an optimistic transaction on every engine (serializable
// on pebblekv and memkv; on kv/tikvkv for point reads, see below): its
// reads come from one snapshot, the engine records what it read (keys and,
// on pebblekv and memkv, scanned key ranges), and the commit fails if a
// concurrent commit wrote any of it; Update then runs the function again on
// a fresh snapshot, a bounded number of times, and finally returns an error
// wrapping kv.ErrConflict. Consequences for the function passed to Update:
//
//   - it may run more than once, so it must not act outside its Tx;
//   - it holds no lock, so a slow function delays no other writer (but the
//     longer it runs, the likelier it conflicts; engines also bound its
//     lifetime, failing it with kv.ErrExpired);
//   - a DB-level call made inside it (db.Put, a generated table used without
//     In(tx)) is not part of the transaction: it runs at once as its own
//     transaction and stays committed whatever the enclosing one does. This
//     is almost always a mistake — use the Tx. The runtime cannot warn about
//     it: Go has no goroutine identity and the call's ctx is the caller's,
//     so a nested call cannot be told from a concurrent one.
//
// On kv/tikvkv, scans inside Update are snapshot isolation, not
// serializable (see that package): a decision made from a scan must also
// read or write a key that competing writers write.
//
// # Secondary indexes
//
// Indexes declared in the schema (docs/key-layout.md, "Secondary indexes")
// are kept in step by every write, in the same batch or transaction as the
// data. The entries of an index depend on one indexed object: a row (table
// indexes) or a map entry (map-scoped ones), and only on its own value
// (inline fields, a row's key) and its indexed breakouts. An object has
// entries once its own key exists — it was Put or had an inline field set;
// one that exists only through blind writes below it has none.
//
// Cost: a write that can change entries reads the old state first — the
// object's own value and its indexed breakouts, a few point reads — and so
// runs, at the DB level, as an optimistic transaction instead of a blind
// batch: Put of a row of a table with indexes or of an entry of an indexed
// map (or of any object holding one), Delete of such a row or entry, a
// setter of an indexed breakout, DeleteRows and DeleteRange over indexed
// rows or entries (which read every object in the range). Writes that no
// index depends on stay blind: non-indexed breakouts, other maps and
// objects, and a whole indexed map's Delete (a range delete of its entries
// next to the map's). Inline setters were read-modify-writes already.
//
// A unique index refuses a write that would give it a second row or entry
// with the same values: the error wraps [ErrUniqueViolation], names the
// index, the values and the key holding them, and nothing is written. A
// field with presence (proto3 optional, proto2, oneof member) that is
// unset gives no entry. A write that breaks more than one unique index
// reports one violation: a clash between two objects of the write itself
// (map entries of one Put given the same values) first; otherwise the
// first clash with a stored row or entry in write order — the objects in
// the order the write visits them (a row before its map entries), each
// object's indexes in the order the schema declares them.
//
// Index states: an index added to a DB holding data is write-only until
// [DB.BuildIndexes] fills it (protoql serve runs it in the background;
// protoql build-indexes from the command line); [DB.IndexReadable]
// reports whether it can be read, and the DB that built an index reads it
// at once. Open never scans the data: it records new
// indexes as write-only, deletes the entries of dropped table indexes, and
// schedules those of dropped map-scoped ones for BuildIndexes.
//
// Typed index reads ([TableIndex], [MapIndex]) take the index entries 64
// at a time, read the rows or map entries they name in key order on one
// forward iterator (each object once, however many of the batch's
// entries name it), then return them in index order; an entry naming
// nothing is a [CorruptError]. They resume from ScanOptions.After: the
// position is the last index entry returned (its values, then the row's
// key or the map entry's key), taken with the index's Cursor (or
// CursorAt, for an index over a repeated field, whose rows have one
// entry per element); equal values continue in key order, and a cursor of
// a primary-key scan or another index is refused. A query through an
// index batches its lookups the same way (no more entries than its page
// can still return), copying the pairs of a batch's objects, up to 256 KiB
// and no more than its key and byte limits still allow, while it reads them
// in key order; it returns them in index order, with
// key and byte limits counted as if each object were read when its entry
// comes (Explain says so).
//
// # Telemetry
//
// Query, the DB-level writes and reads (Get, GetValue, Scan, ScanMap and
// the typed handles' reads and index lookups on a DB), Update and View
// report OpenTelemetry spans and metrics (rows returned, keys and bytes
// scanned, limit hits, write, read and transaction durations, attempts,
// retries, conflicts; the list is in observe.go; a read on a Tx is part
// of its transaction's span) to the providers of [WithTracerProvider] and
// [WithMeterProvider], or to otel's global providers, which record nothing
// until a program installs an SDK (before or after Open); until then no
// span is started and no metric recorded.
//
// # Concurrency
//
// A DB is safe for concurrent use. A Tx belongs to the goroutine running
// the function passed to Update or View, and is valid only inside it.
package runtime
