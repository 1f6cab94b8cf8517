package runtime

import (
	"context"
	"iter"
	"reflect"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Querier is what both a DB and a Tx offer, so generated code and callers
// can run the same calls inside or outside a transaction.
type Querier interface {
	// Get reads the object (row, object field, message map entry) at ref
	// into m, which must be of the object's type. It returns an error
	// wrapping ErrNotFound when the object has no keys.
	Get(ctx context.Context, ref Ref, m proto.Message) error
	// Put replaces the object at ref with m, atomically.
	Put(ctx context.Context, ref Ref, m proto.Message) error
	// Delete removes whatever ref addresses, with its whole subtree.
	Delete(ctx context.Context, ref Ref) error
	// DeleteRange removes, blind and atomically, the entries of the map at
	// ref whose keys are in r (with their subtrees), such as a time window
	// of a series.
	DeleteRange(ctx context.Context, ref Ref, r KeyRange) error
	// DeleteRows removes, blind and atomically, the rows of t in r.
	DeleteRows(ctx context.Context, t *Table, r KeyRange) error
	// GetValue reads a breakout field or a scalar map entry.
	GetValue(ctx context.Context, ref Ref) (protoreflect.Value, error)
	// SetValue writes a breakout field or a scalar map entry: one blind
	// write that neither reads nor touches the parent.
	SetValue(ctx context.Context, ref Ref, v protoreflect.Value) error
	// UpdateInline runs fn on the inline fields of the object at ref and
	// writes them back, atomically (a read-modify-write of the object's own
	// small value). fn may run more than once.
	UpdateInline(ctx context.Context, ref Ref, fn func(protoreflect.Message) error) error
	// Scan streams the rows of t in r.
	Scan(ctx context.Context, t *Table, r KeyRange, opts ScanOptions) iter.Seq2[proto.Message, error]
	// ScanMap streams the entries of the map at ref in r.
	ScanMap(ctx context.Context, ref Ref, r KeyRange, opts ScanOptions) iter.Seq2[MapEntry, error]
	// Query runs a compiled query on one consistent snapshot (a Tx's own).
	Query(ctx context.Context, q *query.Query, vars map[string]any, opts ...QueryOption) iter.Seq2[Result, error]
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// Update runs fn in a serializable read-write transaction across tables
// and commits it if fn returns nil; fn's error is returned unchanged and
// rolls the transaction back.
//
// The transaction is optimistic (see the package doc): fn reads a snapshot,
// and when something it read changed before it could commit, fn runs again
// on a fresh snapshot, a bounded number of times (then the error wraps
// kv.ErrConflict). So fn may run more than once and must have no effect
// outside tx — no sends on channels, no appends to outer slices, no calls
// to other services — or must make such effects idempotent.
//
// Use tx (or a generated table's In(tx)) for everything fn reads and
// writes. A call on the DB itself inside fn (db.Put, table.Get without
// In(tx)) does not join the transaction: it runs at once as a transaction
// of its own, is committed even if fn then fails, does not see tx's
// uncommitted writes, and, if it writes what tx read, makes tx conflict
// and fn run again — where it would run again too. It does not wait for
// tx and never deadlocks.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
	ctx, ob := db.obs.start(ctx, "protoql.Update", db.obs.txDur)
	attempts, err := 0, errUnwound // what the deferred end sees if fn panics
	defer func() { db.obs.endTx(ctx, ob, "update", attempts, err) }()
	err = db.store.Update(ctx, func(txn kv.Txn) error {
		attempts++
		return fn(&Tx{db: db, r: txn, txn: txn})
	})
	return err
}

// View runs fn on one consistent snapshot. Writes through tx fail.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	ctx, ob := db.obs.start(ctx, "protoql.View", db.obs.txDur)
	attempts, err := 0, errUnwound // what the deferred end sees if fn panics
	defer func() { db.obs.endTx(ctx, ob, "view", attempts, err) }()
	err = db.store.View(ctx, func(r kv.Reader) error {
		attempts++
		return fn(&Tx{db: db, r: r})
	})
	return err
}

// Get implements Querier on the latest committed state, read at one point
// in time: the object's keys come from one iterator, and those of a row
// with fields apart (several iterators) from one snapshot of the store.
// It is a call of its own, with a protoql.Get span (observe.go).
func (db *DB) Get(ctx context.Context, ref Ref, m proto.Message) error {
	ctx, ob := db.obs.startRead(ctx, readGet)
	err := db.get(ctx, ref, m)
	db.obs.endRead(ctx, ob, readGet, ref.table, nil, 1, err)
	return err
}

// get is Get, unobserved.
func (db *DB) get(ctx context.Context, ref Ref, m proto.Message) error {
	if ref.table == nil || len(ref.table.s.Apart) == 0 {
		return get(ctx, db.store, ref, m)
	}
	return db.store.View(ctx, func(r kv.Reader) error { return get(ctx, r, ref, m) })
}

// Put implements Querier with one atomic batch.
func (db *DB) Put(ctx context.Context, ref Ref, m proto.Message) error {
	return db.put(ctx, ref, m, false)
}

// put is Put; own says ref is the RowOf of m (see put in write.go).
func (db *DB) put(ctx context.Context, ref Ref, m proto.Message, own bool) error {
	if ref.putIndexed() { // index.go: the write reads the old entries
		return db.putIndexed(ctx, &ref, m, own)
	}
	if ref.apart != nil {
		return db.putApart(ctx, ref, m, own)
	}
	return db.apply(ctx, "put", &ref, func(w kv.Writer) error { return put(w, ref, m, own) })
}

// putApart is put under a field stored apart (applyApart).
func (db *DB) putApart(ctx context.Context, ref Ref, m proto.Message, own bool) error {
	return db.applyApart(ctx, "put", ref, func(w kv.Writer) error { return put(w, ref, m, own) })
}

// Delete implements Querier with one atomic batch.
func (db *DB) Delete(ctx context.Context, ref Ref) error {
	if ref.deleteIndexed() { // index.go
		return db.applyIx(ctx, "delete", &ref, func(txn kv.Txn) error { return delIx(ctx, txn, txn, ref) })
	}
	if db.keys != nil && ref.kind == RefBreakout {
		return db.deleteKey(ctx, &ref)
	}
	return db.apply(ctx, "delete", &ref, func(w kv.Writer) error { return delIx(ctx, nil, w, ref) })
}

// deleteKey is Delete of a breakout field in no index on a store that
// writes one key for less than a batch costs (kv.KeySetter): what the
// batch would hold, its one Delete, without the batch.
func (db *DB) deleteKey(ctx context.Context, ref *Ref) error {
	ctx, ob := db.obs.start(ctx, "protoql.Delete", db.obs.writeDur)
	err := db.keys.DeleteKey(ctx, ref.key)
	db.obs.endWrite(ctx, ob, "delete", ref, 0, err)
	return err
}

// DeleteRange implements Querier with one atomic batch.
func (db *DB) DeleteRange(ctx context.Context, ref Ref, r KeyRange) error {
	if ref.rangeIndexed() { // index.go
		return db.applyIx(ctx, "delete_range", &ref, func(txn kv.Txn) error { return deleteEntriesIx(ctx, txn, txn, ref, r) })
	}
	return db.apply(ctx, "delete_range", &ref, func(w kv.Writer) error { return deleteEntries(w, ref, r) })
}

// DeleteRows implements Querier with one atomic batch.
func (db *DB) DeleteRows(ctx context.Context, t *Table, r KeyRange) error {
	if rowsIndexed(t) { // index.go
		return db.applyIx(ctx, "delete_rows", &Ref{table: t}, func(txn kv.Txn) error { return deleteRowsIx(ctx, txn, txn, t, r) })
	}
	return db.apply(ctx, "delete_rows", &Ref{table: t}, func(w kv.Writer) error { return deleteRows(w, t, r) })
}

// apply records writes in a batch and commits it. The batch and its
// encoding buffers come from a pool (see writeBatch).
func (db *DB) apply(ctx context.Context, op string, ref *Ref, write func(kv.Writer) error) error {
	ctx, ob := db.obs.start(ctx, spanNames[op], db.obs.writeDur)
	b := batchPool.Get().(*writeBatch)
	err := write(b)
	if err == nil {
		err = db.store.Apply(ctx, &b.Batch)
	}
	b.release()
	db.obs.endWrite(ctx, ob, op, ref, 0, err)
	return err
}

// applyIx runs a write that maintains indexes as an optimistic
// transaction: its reads of the old index state are validated at commit.
// write is the runtime's own: it acts on what it reads only through its
// writes and its error, so where the store offers it the transaction takes
// no snapshot (kv.LatestUpdater: its commit, and an error it returns, are
// validated as Update's, so it read one state all the same).
func (db *DB) applyIx(ctx context.Context, op string, ref *Ref, write func(kv.Txn) error) error {
	attempts := 0
	return db.runIx(ctx, op, ref, func(txn kv.Txn) error {
		attempts++
		return write(txn)
	}, &attempts)
}

// runIx is applyIx with the transaction's function fn, which counts the
// attempts it runs in *attempts, made by the caller.
func (db *DB) runIx(ctx context.Context, op string, ref *Ref, fn func(kv.Txn) error, attempts *int) error {
	ctx, ob := db.obs.start(ctx, spanNames[op], db.obs.writeDur)
	var err error
	if lu, ok := db.store.(kv.LatestUpdater); ok {
		err = lu.UpdateLatest(ctx, fn)
	} else {
		err = db.store.Update(ctx, fn)
	}
	db.obs.endWrite(ctx, ob, op, ref, *attempts, err)
	return err
}

// putIndexed is put of an object whose Put changes index entries: applyIx
// of putIx, whose function and what it needs come from a pool, so that
// neither the function nor a copy of ref is allocated per Put.
func (db *DB) putIndexed(ctx context.Context, ref *Ref, m proto.Message, own bool) error {
	c := putCallPool.Get().(*putCall)
	defer c.release()
	c.ctx, c.ref, c.m, c.own = ctx, *ref, m, own
	return db.runIx(ctx, "put", &c.ref, c.runFn, &c.attempts)
}

// putCall is putIndexed's transaction function (run) and its arguments.
type putCall struct {
	ctx      context.Context
	ref      Ref
	m        proto.Message
	own      bool
	attempts int
	runFn    func(kv.Txn) error // c.run, made once per pooled call
	// d is the index delta of an attempt, reset by each (putIx): its
	// entries refer to the attempt's keys and values, and nothing keeps
	// it past the call, so it is pooled with the call (688 bytes and an
	// allocation per Put otherwise).
	d idxDelta
}

var putCallPool = sync.Pool{New: func() any {
	c := new(putCall)
	c.runFn = c.run
	// Room for a row's key and its value: the Put's buffers, made once
	// per pooled call.
	c.d.kb, c.d.vb = make([]byte, 0, 192), make([]byte, 0, 256)
	return c
}}

// release empties c, dropping what it refers to (d's entries too) but its
// method value and d's buffers, emptied, and pools it.
func (c *putCall) release() {
	*c = putCall{runFn: c.runFn, d: idxDelta{kb: c.d.kb[:0], vb: c.d.vb[:0]}}
	putCallPool.Put(c)
}

func (c *putCall) run(txn kv.Txn) error {
	c.attempts++
	if err := putIx(c.ctx, txn, txn, c.ref, c.m, c.own, &c.d); err != nil {
		return err
	}
	return ensureRow(c.ctx, txn, c.ref)
}

// setValueIx is setValue on a field an index names; apart from setValue
// so that the blind path's ref does not escape.
func (db *DB) setValueIx(ctx context.Context, ref Ref, v protoreflect.Value, typed bool) error {
	return db.applyIx(ctx, "set_value", &ref, func(txn kv.Txn) error {
		if err := setValueIx(ctx, txn, txn, ref, v, typed); err != nil {
			return err
		}
		return ensureRow(ctx, txn, ref)
	})
}

// GetValue implements Querier. It is a call of its own, with a
// protoql.Get span (observe.go).
func (db *DB) GetValue(ctx context.Context, ref Ref) (protoreflect.Value, error) {
	ctx, ob := db.obs.startRead(ctx, readGetValue)
	v, err := getValue(ctx, db.store, ref)
	db.obs.endRead(ctx, ob, readGetValue, ref.table, nil, 1, err)
	return v, err
}

// SetValue implements Querier with one blind write.
func (db *DB) SetValue(ctx context.Context, ref Ref, v protoreflect.Value) error {
	return db.setValue(ctx, &ref, v, false)
}

// setValue is SetValue; typed says v's type has been checked. ref is
// taken by address (see setOne) and not retained.
func (db *DB) setValue(ctx context.Context, ref *Ref, v protoreflect.Value, typed bool) error {
	if ref.setIndexed() { // index.go
		return db.setValueIx(ctx, *ref, v, typed)
	}
	if ref.apart != nil {
		return db.setValueApart(ctx, *ref, v, typed)
	}
	if db.keys != nil {
		return db.setKey(ctx, ref, v, typed)
	}
	return db.setValueBatch(ctx, *ref, v, typed)
}

// setValueBatch is setValue as one batch, for a store without
// kv.KeySetter; apart from setValue so that its closure's copy of the Ref
// is made on this path only.
func (db *DB) setValueBatch(ctx context.Context, ref Ref, v protoreflect.Value, typed bool) error {
	return db.apply(ctx, "set_value", &ref, func(w kv.Writer) error { return setValue(w, ref, v, typed) })
}

// setKey is setValue, outside indexes and apart fields, on a store that
// writes one key for less than a batch costs (kv.KeySetter): the batch's
// one Set, without the batch, its value encoded after the key in the
// key's buffer when it has room for it (Ref.valueRoom), else in a pooled
// buffer.
//
// While the observer is quiet (observer.quiet: otel's initial global
// providers, nothing installed) the call is neither started nor ended, as
// it would record nothing: a breakout update is a blind write of a few
// thousand instructions, and the call's span, start time and end cost a
// few percent of them.
func (db *DB) setKey(ctx context.Context, ref *Ref, v protoreflect.Value, typed bool) error {
	if db.obs.quiet() {
		return db.writeKey(ctx, ref, v, typed)
	}
	ctx, ob := db.obs.start(ctx, "protoql.SetValue", db.obs.writeDur)
	err := db.writeKey(ctx, ref, v, typed)
	db.obs.endWrite(ctx, ob, "set_value", ref, 0, err)
	return err
}

// writeKey is setKey's write, outside its call's observation.
func (db *DB) writeKey(ctx context.Context, ref *Ref, v protoreflect.Value, typed bool) error {
	var b *writeBatch
	vb := ref.valueRoom()
	if vb == nil {
		b = batchPool.Get().(*writeBatch)
		vb = b.val[:0]
	}
	key, val, err := encodeValue(vb, ref, v, typed)
	if err == nil {
		err = db.keys.SetKey(ctx, key, val)
	}
	if b != nil {
		b.release()
	}
	return err
}

// setValueApart is setValue under a field stored apart (applyApart).
func (db *DB) setValueApart(ctx context.Context, ref Ref, v protoreflect.Value, typed bool) error {
	return db.applyApart(ctx, "set_value", ref, func(w kv.Writer) error { return setValue(w, ref, v, typed) })
}

// UpdateInline implements Querier in its own transaction.
func (db *DB) UpdateInline(ctx context.Context, ref Ref, fn func(protoreflect.Message) error) error {
	return db.updateInlineField(ctx, ref, 0, scalarSet{}, fn)
}

// updateInlineField is UpdateInline of a fn that changes only field num,
// to the value set gives when it is not zero (see updateInlineField).
//
// fn sees only the object's own value and cannot reach the store. So when
// the object's inline fields are in no index and it is not stored apart
// (so no row key to ensure), the update reads and writes the object's own
// key only, and a store that offers it runs it as a single-key
// read-modify-write (kv.KeyUpdater), with the isolation of the
// transaction it replaces: fn runs on the newest committed value, and
// again when another commit wrote the key before this one. Otherwise a
// setter's fn (num not 0), which only sets the field, runs in a
// transaction without a snapshot where the store offers it
// (kv.LatestUpdater), and any other fn in a transaction of its own.
//
// A setter of a number, bool or enum field (set not zero) of such an
// object, on a store that can merge (kv.KeyMerger), reads nothing: it
// writes a field patch (mergePatch), which the store applies to the
// value when the key is read, a blind write whose result is the value
// the read-modify-write would write, up to the order of the fields.
func (db *DB) updateInlineField(ctx context.Context, ref Ref, num protoreflect.FieldNumber, set scalarSet, fn func(protoreflect.Message) error) error {
	ctx, ob := db.obs.start(ctx, "protoql.UpdateInline", db.obs.writeDur)
	c := inlineCallPool.Get().(*inlineCall) // what the store's function needs, without an allocation
	c.ctx, c.db, c.ref, c.num, c.set, c.fn, c.attempts = ctx, db, ref, num, set, fn, 0
	var err error
	own := ref.apart == nil && inlineTarget(ref) == nil && !inlineIndexed(ref)
	if p, ok := mergePatch(c.buf[:0], db.merger, ref, num, set, own); ok {
		c.attempts = 1
		err = db.merger.MergeKey(ctx, ref.key, p)
		c.buf = p[:0]
	} else if ku, ok := db.store.(kv.KeyUpdater); ok && own {
		err = ku.UpdateKey(ctx, ref.key, c.runKeyFn)
	} else if lu, ok := db.store.(kv.LatestUpdater); ok && num != 0 {
		err = lu.UpdateLatest(ctx, c.runFn)
	} else {
		err = db.store.Update(ctx, c.runFn)
	}
	db.obs.endWrite(ctx, ob, "update_inline", &c.ref, c.attempts, err)
	c.release()
	return err
}

// inlineIndexed reports whether an index names an inline field of the
// object at ref (index.go), so that updating them also writes index
// entries.
func inlineIndexed(ref Ref) bool {
	_, ok := inlineObj(ref)
	return ok
}

// inlineCall is DB.updateInlineField's transaction function and its
// arguments, with the count of its runs and runKey's value buffer. It is
// pooled: the store calls its functions only before UpdateKey, Update or
// UpdateLatest returns.
type inlineCall struct {
	ctx      context.Context
	db       *DB
	ref      Ref
	num      protoreflect.FieldNumber
	set      scalarSet
	fn       func(protoreflect.Message) error
	attempts int
	buf      []byte
	// runFn and runKeyFn are c.run and c.runKey, made once per pooled
	// inlineCall (a method value passed on allocates).
	runFn    func(kv.Txn) error
	runKeyFn func([]byte, bool) ([]byte, bool, error)
}

var inlineCallPool = sync.Pool{New: func() any {
	c := new(inlineCall)
	c.runFn, c.runKeyFn = c.run, c.runKey
	return c
}}

// release empties c and returns it to the pool, keeping a small buffer.
func (c *inlineCall) release() {
	buf := c.buf[:0]
	if cap(buf) > maxPooledBatch {
		buf = nil
	}
	*c = inlineCall{buf: buf, runFn: c.runFn, runKeyFn: c.runKeyFn}
	inlineCallPool.Put(c)
}

func (c *inlineCall) run(txn kv.Txn) error {
	c.attempts++
	return updateInlineField(c.ctx, txn, c.db, c.ref, c.num, c.set, c.fn)
}

// runKey is the function of a single-key update (kv.KeyUpdater): the new
// own value from the stored one, which is all updateInlineField does when
// the object has no index and no row to ensure. The store copies out
// before UpdateKey returns, so it is built in c's buffer.
func (c *inlineCall) runKey(val []byte, _ bool) ([]byte, bool, error) {
	c.attempts++
	out, err := newInline(c.ctx, nil, nil, c.db, c.ref, c.num, c.set, c.fn, val, c.buf)
	if err != nil {
		return nil, false, err
	}
	c.buf = out[:0]
	if err := checkSize(c.ref.table, c.ref.key, out); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// Scan implements Querier. The whole scan reads one snapshot of the store
// (it may open several iterators: a row's fields apart, a reverse scan),
// held until the sequence ends or the caller stops ranging, as DB.Query
// holds its; use View for several reads on one snapshot. Each ranging is
// a call of its own, with a protoql.Scan span (observe.go).
func (db *DB) Scan(ctx context.Context, t *Table, r KeyRange, opts ScanOptions) iter.Seq2[proto.Message, error] {
	return inView(ctx, db, t, func(ctx context.Context, rd kv.Reader, n *rowCounts, yield func(proto.Message, error) bool) (bool, error) {
		return scanRowsTo(ctx, rd, t, r, opts, nil, n, yield)
	})
}

// ScanMap implements Querier. The scan reads one iterator (a map's entries
// lie in one key range, apart or not), so it sees one point in time. Each
// ranging is a call of its own, with a protoql.Scan span (observe.go).
func (db *DB) ScanMap(ctx context.Context, ref Ref, r KeyRange, opts ScanOptions) iter.Seq2[MapEntry, error] {
	return scanEntries(ctx, db.store, ref, r, opts, db.obs)
}

// inView streams the rows of t that scan hands to its yield (the
// caller's), counting them in its rowCounts, on a snapshot of db's store,
// holding the snapshot while the caller ranges; scan returns its error
// (scanRowsTo), which inView yields unless the caller stopped. An error
// of the store's View ends the sequence, unless the caller has stopped or
// scan's error was yielded already: a sequence's first error is its last
// (see the package doc), also for a caller that ranges on after it. Each
// ranging is one observed read (readScan), from the View's start to its
// end: when the rows run out, the caller stops or the first error. The
// rows go to the caller's yield unwrapped: a loop body of inView's own
// would be one more call per row.
func inView[V any](ctx context.Context, db *DB, t *Table, scan func(context.Context, kv.Reader, *rowCounts, func(V, error) bool) (stopped bool, err error)) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		ctx, ob := db.obs.startRead(ctx, readScan)
		// One variable, which the View's function captures: the caller
		// stopped or has had its error (done), the rows it was given and
		// the error it was given.
		var st struct {
			done bool
			n    rowCounts
			err  error
		}
		end := errUnwound // the read's error, once it ended (errUnwound: the caller's loop body panicked)
		defer func() { db.obs.endRead(ctx, ob, readScan, t, nil, st.n.rows, end) }()
		var zero V
		err := db.store.View(ctx, func(r kv.Reader) error {
			stopped, err := scan(ctx, r, &st.n, yield)
			st.done = stopped
			if err != nil && !stopped {
				st.err = err
				yield(zero, err)
				st.done = true
			}
			return nil
		})
		if err != nil && !st.done {
			yield(zero, err)
		}
		if st.err == nil {
			st.err = err
		}
		end = st.err
	}
}

// scanRowsAs streams the rows of t in r on q as Ms (scanRowsTo, with typ
// as its), for the typed layer, when q is a *DB (on a snapshot, as
// DB.Scan: inView) or a *Tx; false for another Querier.
func scanRowsAs[M any](ctx context.Context, q Querier, t *Table, r KeyRange, opts ScanOptions, typ reflect.Type) (iter.Seq2[M, error], bool) {
	switch q := q.(type) {
	case *DB:
		return inView(ctx, q, t, func(ctx context.Context, rd kv.Reader, n *rowCounts, yield func(M, error) bool) (bool, error) {
			return scanRowsTo(ctx, rd, t, r, opts, typ, n, yield)
		}), true
	case *Tx:
		return func(yield func(M, error) bool) {
			var n rowCounts
			if stopped, err := scanRowsTo(ctx, q.r, t, r, opts, typ, &n, yield); err != nil && !stopped {
				var zero M
				yield(zero, err)
			}
		}, true
	}
	return nil, false
}

// Tx is a transaction: Querier calls on it read the transaction's snapshot
// (and its own writes) and write into it. It is valid only inside the
// function passed to Update or View.
type Tx struct {
	db  *DB
	r   kv.Reader
	txn kv.Txn // nil in View
}

// DB returns the transaction's DB.
func (tx *Tx) DB() *DB { return tx.db }

func (tx *Tx) writer() (kv.Txn, error) {
	if tx.txn == nil {
		return nil, invalid("write in a read-only transaction (View)")
	}
	return tx.txn, nil
}

// Get implements Querier.
func (tx *Tx) Get(ctx context.Context, ref Ref, m proto.Message) error {
	return get(ctx, tx.r, ref, m)
}

// Put implements Querier.
func (tx *Tx) Put(ctx context.Context, ref Ref, m proto.Message) error {
	return tx.put(ctx, ref, m, false)
}

// put is Put; own says ref is the RowOf of m (see put in write.go).
func (tx *Tx) put(ctx context.Context, ref Ref, m proto.Message, own bool) error {
	w, err := tx.writer()
	if err != nil {
		return err
	}
	if err := putIx(ctx, w, w, ref, m, own, nil); err != nil {
		return err
	}
	return ensureRow(ctx, w, ref)
}

// Delete implements Querier.
func (tx *Tx) Delete(ctx context.Context, ref Ref) error {
	w, err := tx.writer()
	if err != nil {
		return err
	}
	return delIx(ctx, w, w, ref)
}

// DeleteRange implements Querier.
func (tx *Tx) DeleteRange(ctx context.Context, ref Ref, r KeyRange) error {
	w, err := tx.writer()
	if err != nil {
		return err
	}
	return deleteEntriesIx(ctx, w, w, ref, r)
}

// DeleteRows implements Querier.
func (tx *Tx) DeleteRows(ctx context.Context, t *Table, r KeyRange) error {
	w, err := tx.writer()
	if err != nil {
		return err
	}
	return deleteRowsIx(ctx, w, w, t, r)
}

// GetValue implements Querier.
func (tx *Tx) GetValue(ctx context.Context, ref Ref) (protoreflect.Value, error) {
	return getValue(ctx, tx.r, ref)
}

// SetValue implements Querier.
func (tx *Tx) SetValue(ctx context.Context, ref Ref, v protoreflect.Value) error {
	return tx.setValue(ctx, &ref, v, false)
}

// setValue is SetValue; typed says v's type has been checked.
func (tx *Tx) setValue(ctx context.Context, ref *Ref, v protoreflect.Value, typed bool) error {
	w, err := tx.writer()
	if err != nil {
		return err
	}
	if err := setValueIx(ctx, w, w, *ref, v, typed); err != nil {
		return err
	}
	return ensureRow(ctx, w, *ref)
}

// UpdateInline implements Querier.
func (tx *Tx) UpdateInline(ctx context.Context, ref Ref, fn func(protoreflect.Message) error) error {
	return tx.updateInlineField(ctx, ref, 0, scalarSet{}, fn)
}

// updateInlineField is UpdateInline of a fn that changes only field num,
// to the value set gives when it is not zero (see updateInlineField).
func (tx *Tx) updateInlineField(ctx context.Context, ref Ref, num protoreflect.FieldNumber, set scalarSet, fn func(protoreflect.Message) error) error {
	w, err := tx.writer()
	if err != nil {
		return err
	}
	return updateInlineField(ctx, w, tx.db, ref, num, set, fn)
}

// Scan implements Querier.
func (tx *Tx) Scan(ctx context.Context, t *Table, r KeyRange, opts ScanOptions) iter.Seq2[proto.Message, error] {
	return scanRows(ctx, tx.r, t, r, opts)
}

// ScanMap implements Querier.
func (tx *Tx) ScanMap(ctx context.Context, ref Ref, r KeyRange, opts ScanOptions) iter.Seq2[MapEntry, error] {
	return scanEntries(ctx, tx.r, ref, r, opts, nil)
}
