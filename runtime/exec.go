package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
)

// Executing compiled queries (package query). A query runs on one
// consistent snapshot and streams one message per root object, in key
// order (or reverse). Each message has the row's key fields and the
// selected fields set, nothing else: unselected inline fields are dropped
// from the values as they are read, and unselected objects, maps and
// breakout fields are never read.
//
// The reads follow the plan (query.Plan): one forward iterator per root
// scan walks each row's own key and then seeks to each selected child in
// field-number order, which is key order, so a row costs the keys it
// returns plus one seek per selected child. Reverse scans find each object
// with a reverse iterator (one key per object) and read it with the
// forward one. Joins gather the target keys of all the entries of a map
// (or of one object), sort them, and read the target rows with one
// iterator, seeking from key to key.

// Limits bound what one Query call may do. Zero means unlimited. They are
// checked on every key the executor reads, inside an object as well as
// between rows, so one call's memory is bounded by MaxBytes (plus the
// largest stored pair) however large a row is: a row cut short by a limit
// is returned as far as it was read, marked Partial, and the LimitError's
// cursor resumes inside it (see LimitError). The context is checked on
// every key too.
//
// To guarantee progress, the key and byte limits apply once the call has
// returned its first pair, so a call always returns something. A row whose
// projection selects a join is not cut: its targets must fit in the limits
// with the row, else it is not returned and the cursor stays before it.
type Limits struct {
	// MaxRows caps the root results.
	MaxRows int
	// MaxKeys caps the keys iterators land on, including the few landed on
	// while seeking past unselected parts.
	MaxKeys int
	// MaxBytes caps the key and value bytes of those keys.
	MaxBytes int
}

// QueryOption configures one Query call.
type QueryOption func(*queryOptions)

type queryOptions struct {
	limits    Limits
	cursorKey []byte
	rowChunk  int
}

// WithLimits bounds the call (see Limits and LimitError).
func WithLimits(l Limits) QueryOption { return func(o *queryOptions) { o.limits = l } }

// WithRowChunk streams a row larger than bytes (the key and value bytes of
// its selected pairs) as several results: Partial ones of about bytes
// each, then the last piece, every one with a cursor that resumes after
// it. A call then holds one piece of a row at a time, not the whole row,
// and a row too large for one message can still be sent. Rows whose
// projection selects a join are not split. Zero (the default) returns
// every row whole.
func WithRowChunk(bytes int) QueryOption { return func(o *queryOptions) { o.rowChunk = bytes } }

// WithCursorKey signs and checks cursors with key instead of the secret the
// DB keeps in its metadata (see cursor.go).
func WithCursorKey(key []byte) QueryOption {
	return func(o *queryOptions) { o.cursorKey = key }
}

// Result is one root object of a query.
type Result struct {
	// Msg is the row: the table's Go type when it is linked in, else a
	// dynamicpb message.
	Msg proto.Message
	// Cursor resumes the query after this row: pass it as the root's
	// after: argument (typically through a variable).
	Cursor string
	// MapCursors holds, for each map page of this row that first: cut
	// short, the cursor to pass as that map's after: to read on. Keys are
	// the map's path in the row, such as "sessions" or
	// `sessions["s1"].attrs`. Nil when no page was cut; maps inside join
	// targets are not reported.
	MapCursors map[string]string
	// Partial marks a row cut short by a limit: it holds the row's key
	// fields and what was read of the row before the limit, and it is the
	// last result before the LimitError. Cursor then resumes inside the
	// row: the first result of the resumed query holds the rest of it (key
	// fields and the pairs after the cut, nothing twice). MergeRow puts the
	// pieces together.
	Partial bool
}

// ErrLimit is wrapped by the LimitError that ends a query stopped by its
// Limits.
var ErrLimit = errors.New("runtime: query limit reached")

// LimitError ends a query that reached one of its Limits before its end.
// Every result before it is complete but the last, which is Partial when
// the limit cut it; resume with Cursor as the root's after: argument (with
// a variable: the query's fingerprint ignores after:). Cursor is the last
// result's, or, when the call returned none, the after: cursor it was
// given; it is empty only when a first call returned nothing, which
// happens only for a first row with joins larger than the limits (resuming
// would start over: it needs a larger limit).
type LimitError struct {
	// Limit names the limit: "rows", "keys" or "bytes".
	Limit string
	// Max is its value.
	Max int
	// Cursor resumes after what was returned, inside the last row when it
	// is Partial.
	Cursor string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("runtime: query limit reached: more than %d %s; resume with after: set to the cursor of the last result (LimitError.Cursor)", e.Max, e.Limit)
}

// Unwrap makes LimitError match ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Query runs q with vars bound (see query.Query.Bind) on one consistent
// snapshot of the DB, streaming one Result per root object. The snapshot
// is held until the sequence ends or the caller stops ranging. An error
// ends the sequence: a bad variable or cursor (*query.Error), a
// *LimitError, a corruption error, or the store's.
func (db *DB) Query(ctx context.Context, q *query.Query, vars map[string]any, opts ...QueryOption) iter.Seq2[Result, error] {
	return func(yield func(Result, error) bool) {
		ctx, ob := db.obs.start(ctx, "protoql.Query")
		e, err := db.newExec(ctx, q, vars, opts)
		if err != nil {
			db.obs.endQuery(ctx, ob, q, nil, err)
			yield(Result{}, err)
			return
		}
		err = db.store.View(ctx, func(r kv.Reader) error {
			e.r = r
			return e.run(yield)
		})
		db.obs.endQuery(ctx, ob, q, e, err)
		e.release()
		if err != nil && !errors.Is(err, errStopped) {
			yield(Result{}, err)
		}
	}
}

// Query runs q on the transaction's snapshot (and, in Update, its own
// writes); see DB.Query.
func (tx *Tx) Query(ctx context.Context, q *query.Query, vars map[string]any, opts ...QueryOption) iter.Seq2[Result, error] {
	return func(yield func(Result, error) bool) {
		ctx, ob := tx.db.obs.start(ctx, "protoql.Query")
		e, err := tx.db.newExec(ctx, q, vars, opts)
		if err != nil {
			tx.db.obs.endQuery(ctx, ob, q, nil, err)
			yield(Result{}, err)
			return
		}
		e.r = tx.r
		err = e.run(yield)
		tx.db.obs.endQuery(ctx, ob, q, e, err)
		e.release()
		if err != nil && !errors.Is(err, errStopped) {
			yield(Result{}, err)
		}
	}
}

// errStopped is returned inside the snapshot when the caller stops ranging.
var errStopped = errors.New("runtime: query stopped by the caller")

// exec is one execution of a plan. It belongs to one goroutine.
type exec struct {
	ctx   context.Context
	db    *DB
	r     kv.Reader
	b     *query.Bound
	p     *query.Plan
	t     *Table
	lim   Limits
	sign  *cursorSigner
	asm   assembler
	keys  int
	bytes int
	rows  int   // root results yielded, for telemetry
	err   error // a limit hit or an iterator error, sticky
	// scratch holds filtered values; kb holds keys per nesting depth.
	scratch []byte
	kb      [][]byte
	// path is the stack of maps and entries being read, for map cursors.
	path       []pathStep
	mapCursors map[string]string
	inJoin     bool
	// walkers are closed walkers for reuse.
	walkers []*walker
	// copyBuf holds a joined row's wire form while it is copied.
	copyBuf []byte
	// done is ctx.Done(), polled on every key.
	done <-chan struct{}
	// chunk is WithRowChunk's size (0: off); rowBytes counts the bytes
	// fed of the current piece of a row.
	chunk    int
	rowBytes int
	// progress reports that the call has returned a pair: the key and
	// byte limits apply from then on.
	progress bool
	// Resuming inside a row (resume.go): resume is the last pair a
	// previous call returned of the row being resumed (nil otherwise),
	// resumeCounts the entries that call had started in each map scan on
	// resume's path, resumeLevel the next of them to take.
	resume       []byte
	resumeCounts []int
	resumeLevel  int
	// The current row's progress, for a cut inside it: fed reports that a
	// pair of it was fed, last is the last one's key, lastCounts the
	// entries started in each map scan on its path (counts, the stack of
	// the map scans open, when it was fed).
	fed        bool
	last       []byte
	lastCounts []int
	counts     []int
	resumeBuf  []byte
	cutBuf     []byte
}

type pathStep struct {
	field *schema.Field
	elem  []byte // entry's key element; nil for the map or an object
}

func (db *DB) newExec(ctx context.Context, q *query.Query, vars map[string]any, opts []QueryOption) (*exec, error) {
	var o queryOptions
	for _, opt := range opts {
		opt(&o)
	}
	b, err := q.Bind(vars)
	if err != nil {
		return nil, err
	}
	p := q.Plan()
	t := db.tables[p.Table.ID]
	if t == nil || t.s.Desc.FullName() != p.Table.Desc.FullName() {
		return nil, invalid("the query reads table %s (id %d), which this DB does not have: compile queries against db.Catalog() or the schema the DB was opened with", p.Table.Desc.FullName(), p.Table.ID)
	}
	key := o.cursorKey
	if key == nil {
		key = db.cursorSecret
	}
	e := execPool.Get().(*exec)
	e.ctx, e.db, e.b, e.p, e.t, e.lim = ctx, db, b, p, t, o.limits
	e.done = ctx.Done()
	e.chunk = o.rowChunk
	if p.Proj.HasJoins() {
		e.chunk = 0
	}
	if e.sign == nil || !bytes.Equal(e.sign.key, key) {
		e.sign = newCursorSigner(key)
	}
	for _, a := range p.Accesses {
		if ba := b.Access(a); ba.After != nil {
			if err := e.sign.verify(ba); err != nil {
				e.release()
				return nil, err
			}
		}
	}
	return e, nil
}

// maxPooledBuf caps a buffer a pooled execution keeps: one huge object
// must not pin its memory for the life of the process.
const maxPooledBuf = 1 << 20

// execPool recycles executions: their assembler, buffers, walkers and
// cursor signer, so a query allocates per result, not per call.
var execPool = sync.Pool{New: func() any { return new(exec) }}

// release returns e to the pool, dropping every reference to the call.
func (e *exec) release() {
	e.ctx, e.db, e.r, e.b, e.p, e.t = nil, nil, nil, nil, nil, nil
	e.keys, e.bytes, e.rows, e.err = 0, 0, 0, nil
	e.path, e.mapCursors, e.inJoin = e.path[:0], nil, false
	e.done, e.progress, e.fed, e.chunk = nil, false, false, 0
	e.resume, e.resumeCounts, e.resumeLevel = nil, e.resumeCounts[:0], 0
	e.last, e.lastCounts, e.counts = e.last[:0], e.lastCounts[:0], e.counts[:0]
	for _, b := range []*[]byte{&e.copyBuf, &e.last, &e.resumeBuf, &e.cutBuf, &e.scratch} {
		if cap(*b) > maxPooledBuf {
			*b = nil
		}
	}
	for i := range e.asm.stack {
		if cap(e.asm.stack[i].buf) > maxPooledBuf {
			e.asm.stack[i].buf = nil
		}
	}
	execPool.Put(e)
}
