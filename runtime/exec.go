package runtime

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// An exec is one execution of the read engine: a compiled query's plan
// (package query), or a typed read (scan.go), which reads with the
// projection that selects everything. queryapi.go is the public API of
// queries, rows.go streams their rows, object.go and mapscan.go read one
// object or map with a projection, resume.go resumes inside a row cut by
// a limit, join.go reads join targets, cursor.go signs cursors, units.go
// steps through rows and map entries, walker.go counts what iterators
// land on.

// query runs q on r, or, when r is nil, on a snapshot of the store taken
// for the call (a view, or for a read with one iterator, that iterator's
// own point in time), with telemetry around the execution.
func (db *DB) query(ctx context.Context, r kv.Reader, q *query.Query, vars map[string]any, opts []QueryOption) iter.Seq2[Result, error] {
	return func(yield func(Result, error) bool) {
		ctx, ob := db.obs.start(ctx, "protoql.Query", db.obs.queryDur)
		// If the caller's loop body panics, the deferred call ends the span
		// (with the execution so far, ex, which it leaves to the collector).
		var ex *exec
		ended := false
		defer func() {
			if !ended {
				db.obs.endQuery(ctx, ob, q, ex, errUnwound)
			}
		}()
		e, err := db.newExec(ctx, q, vars, opts)
		if err != nil {
			ended = true
			db.obs.endQuery(ctx, ob, q, nil, err)
			yield(Result{}, err)
			return
		}
		ex = e
		if r != nil {
			e.r = r
			err = e.run(yield)
		} else if !plainPointReads.Load() && e.oneIterator() {
			// One iterator reads at one point in time by itself, as Get
			// does: no view of the store to open and end.
			e.r = db.store
			err = e.run(yield)
		} else {
			err = db.store.View(ctx, func(r kv.Reader) error {
				e.r = r
				return e.run(yield)
			})
		}
		ended = true
		db.obs.endQuery(ctx, ob, q, e, err)
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
	bound query.Bound // b's storage, when the query has variables
	p     *query.Plan
	t     *Table
	lim   query.Limits
	sign  *cursorSigner
	asm   assembler
	keys  int
	bytes int
	rows  int   // root results yielded, for telemetry
	err   error // a limit hit or an iterator error, sticky
	// closeErr is the first Close error of a walker that read part of a
	// result (a join's targets, a map's page or index entries): the
	// result was read whole, so run returns it after the last one.
	closeErr error
	// scratch holds filtered values; kb holds keys per nesting depth.
	scratch []byte
	kb      [][]byte
	// path is the stack of maps and entries being read, for map cursors.
	path       []pathStep
	mapCursors map[string]string
	inJoin     bool
	// walkers are closed walkers for reuse; underBuf holds the bound of
	// the one open walker that under made.
	walkers  []*walker
	underBuf []byte
	// ownKey is what scanOwn found of the key columns of the row it
	// hands to emit (ownKeyCols); its n is 0 otherwise.
	ownKey keyCols
	// aparts are the open walkers over apart fields' key spaces.
	aparts []apartWalk
	// held holds a unit read backwards (readBack).
	held pairs
	// dec decodes results (decode.go); dir holds the map entries of the
	// row being read that bypass the assembler (direct.go).
	dec decoder
	dir directEntries
	// kept holds the positions of this call's lazy cursors (keep);
	// onePosition is set for a point read, which keeps at most one (a
	// row read whole, or in pieces, the first of which sizes the chunk).
	kept        []byte
	onePosition bool
	// mb holds the bounds of the map scan at each depth (mapBounds).
	mb [][]byte
	// elemBuf holds the last entry of a map page (mapScan.run).
	elemBuf []byte
	// copyBuf holds a joined row's wire form while it is copied.
	copyBuf []byte
	// rootBuf holds a point read's row key and upper bound (rows.go).
	rootBuf []byte
	// pointRow is set while a point read (rows.go point) has not yet
	// read its row: the row's walker has not moved.
	pointRow bool
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
	// prefixBuf holds an index's prefix (indexscan.go).
	prefixBuf []byte
	// scopeBuf holds the keys' prefix that an index read's walker covers,
	// targetBuf the target of a unique index's point read (indexScope,
	// indexPoint): while the walker is open and until emit returns.
	scopeBuf, targetBuf []byte
	// idx holds a batch of index lookups (handleindex.go).
	idx indexBatcher
	// idxLookups are the states of closed scans through an index, for
	// reuse (indexlookup.go).
	idxLookups []*indexLookups
}

type pathStep struct {
	field *schema.Field
	elem  []byte // entry's key element; nil for the map or an object
}

func (db *DB) newExec(ctx context.Context, q *query.Query, vars map[string]any, opts []QueryOption) (*exec, error) {
	var o queryOptions
	if len(opts) > 0 {
		o = applyQueryOptions(opts)
	}
	if o.cursorKey != nil && len(o.cursorKey) < cursorKeyLen {
		return nil, invalid("WithCursorKey: the cursor key is %d bytes, want at least %d (the length of the secret protoql generates): a shorter key makes cursors easier to forge", len(o.cursorKey), cursorKeyLen)
	}
	e := execPool.Get().(*exec)
	// The variables are bound into the execution's own Bound: nothing
	// refers to it past the call (cursors keep positions, not bounds).
	b, err := q.BindTo(&e.bound, vars)
	if err != nil {
		e.release()
		return nil, err
	}
	p := q.Plan()
	t := db.tables[p.Table.ID]
	if t == nil || t.s.Desc.FullName() != p.Table.Desc.FullName() {
		e.release()
		return nil, invalid("the query reads table %s (id %d), which this DB does not have: compile queries against db.Catalog() or the schema the DB was opened with", p.Table.Desc.FullName(), p.Table.ID)
	}
	if err := db.indexesReadable(p); err != nil {
		e.release()
		return nil, err
	}
	key := o.cursorKey
	if key == nil {
		key = db.cursorSecret
	}
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

// applyQueryOptions returns the options opts set. The options an option
// sets escape (it is a function value): applied here, a call without
// options allocates none.
func applyQueryOptions(opts []QueryOption) queryOptions {
	var o queryOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// plainPointReads, set by benchmarks only, makes point reads take the
// general path: a view of the store, and the row's seek before its
// children's (object).
var plainPointReads atomic.Bool

// oneIterator reports whether the execution reads with one iterator
// only: a point read (the root's key fixed, no cursor) of the table's own
// key range, with no field stored apart, no join and no access through an
// index, whose map pages all go forward (a reverse page opens a reverse
// iterator). Every other walker is then the row's walker, lent down
// (object, scanMap, steps), so the read sees one point in time without a
// view of the store.
func (e *exec) oneIterator() bool {
	p := e.p
	if p.Root.Index != nil || len(e.t.s.Apart) > 0 {
		return false
	}
	if ba := e.b.Access(p.Root); !ba.Exact || ba.After != nil {
		return false
	}
	return e.oneIteratorProj(p.Proj)
}

func (e *exec) oneIteratorProj(p *query.Proj) bool {
	if p.HasJoins() || len(p.Hidden) > 0 {
		return false
	}
	for _, ch := range p.Children {
		if ch.Field.Apart || ch.Target != nil {
			return false
		}
		if a := ch.Access; a != nil && (a.Index != nil || e.b.Access(a).Reverse) {
			return false
		}
		if ch.Proj != nil && !e.oneIteratorProj(ch.Proj) {
			return false
		}
	}
	return true
}

// maxPooledBuf caps a buffer a pooled execution keeps: one huge object
// must not pin its memory for the life of the process.
const maxPooledBuf = 1 << 20

// execPool recycles executions: their assembler, buffers, walkers and
// cursor signer, so a query allocates per result, not per call.
var execPool = sync.Pool{New: func() any { return new(exec) }}

// release returns e to the pool, dropping every reference to the call.
func (e *exec) release() {
	var dropped error // the callers that report them closed them before
	e.closeAparts(&dropped)
	e.ctx, e.db, e.r, e.b, e.p, e.t = nil, nil, nil, nil, nil, nil
	e.bound.Reset()
	e.keys, e.bytes, e.rows, e.err, e.closeErr, e.lim = 0, 0, 0, nil, nil, query.Limits{}
	e.path, e.mapCursors, e.inJoin, e.kept, e.onePosition = e.path[:0], nil, false, nil, false
	e.done, e.progress, e.fed, e.chunk, e.pointRow = nil, false, false, 0, false
	e.resume, e.resumeCounts, e.resumeLevel = nil, e.resumeCounts[:0], 0
	e.last, e.lastCounts, e.counts = e.last[:0], e.lastCounts[:0], e.counts[:0]
	e.trim()
	execPool.Put(e)
}

// trimBuf drops *b when it has grown past maxPooledBuf.
func trimBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		*b = nil
	}
}

// trim drops every buffer grown past maxPooledBuf, so that a pooled
// execution does not keep one huge object's memory.
func (e *exec) trim() {
	// One call per buffer, in line, rather than a loop over a slice of
	// their addresses built for each release (≈ 75 instructions a query).
	trimBuf(&e.copyBuf)
	trimBuf(&e.rootBuf)
	trimBuf(&e.last)
	trimBuf(&e.resumeBuf)
	trimBuf(&e.cutBuf)
	trimBuf(&e.scratch)
	trimBuf(&e.elemBuf)
	trimBuf(&e.underBuf)
	trimBuf(&e.prefixBuf)
	trimBuf(&e.scopeBuf)
	trimBuf(&e.targetBuf)
	// The key buffers of each nesting depth (buf) and the map scans'
	// bounds (mapBounds).
	for i := range e.kb {
		trimBuf(&e.kb[i])
	}
	for i := range e.mb {
		trimBuf(&e.mb[i])
	}
	e.dec.trim(maxPooledBuf)
	e.dir.trim(maxPooledBuf)
	if e.idx.reset(); cap(e.idx.buf) > maxPooledBuf {
		e.idx = indexBatcher{}
	}
	if cap(e.held.buf) > maxPooledBuf {
		e.held = pairs{}
	}
	for i := range e.asm.stack {
		if cap(e.asm.stack[i].buf) > maxPooledBuf {
			e.asm.stack[i].buf = nil
		}
	}
}
