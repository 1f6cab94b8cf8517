package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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

// Limits bound what one Query call may do. Zero means unlimited.
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
}

// WithLimits bounds the call (see Limits and LimitError).
func WithLimits(l Limits) QueryOption { return func(o *queryOptions) { o.limits = l } }

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
}

// ErrLimit is wrapped by the LimitError that ends a query stopped by its
// Limits.
var ErrLimit = errors.New("runtime: query limit reached")

// LimitError ends a query that reached one of its Limits before its end.
// Every result before it is complete; resume with Cursor as the root's
// after: argument (with a variable: the query's fingerprint ignores
// after:). Cursor is empty when no row was returned: resuming starts
// over, so a single row larger than MaxKeys or MaxBytes needs a larger
// limit.
type LimitError struct {
	// Limit names the limit: "rows", "keys" or "bytes".
	Limit string
	// Max is its value.
	Max int
	// Cursor resumes after the last result returned.
	Cursor string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("runtime: query limit reached: more than %d %s; resume with after: set to the cursor of the last result", e.Max, e.Limit)
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
		e, err := db.newExec(ctx, q, vars, opts)
		if err != nil {
			yield(Result{}, err)
			return
		}
		err = db.store.View(ctx, func(r kv.Reader) error {
			e.r = r
			return e.run(yield)
		})
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
		e, err := tx.db.newExec(ctx, q, vars, opts)
		if err != nil {
			yield(Result{}, err)
			return
		}
		e.r = tx.r
		err = e.run(yield)
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
	err   error // a limit hit or an iterator error, sticky
	// scratch holds filtered values; kb holds keys per nesting depth.
	scratch []byte
	kb      [][]byte
	// path is the stack of maps and entries being read, for map cursors.
	path       []pathStep
	mapCursors map[string]string
	inJoin     bool
	// walkers are closed walkers for reuse; rowBuf holds the current row
	// key.
	walkers []*walker
	rowBuf  []byte
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

// execPool recycles executions: their assembler, buffers, walkers and
// cursor signer, so a query allocates per result, not per call.
var execPool = sync.Pool{New: func() any { return new(exec) }}

// release returns e to the pool, dropping every reference to the call.
func (e *exec) release() {
	e.ctx, e.db, e.r, e.b, e.p, e.t = nil, nil, nil, nil, nil, nil
	e.keys, e.bytes, e.err = 0, 0, nil
	e.path, e.mapCursors, e.inJoin = e.path[:0], nil, false
	execPool.Put(e)
}

// run streams the root objects.
func (e *exec) run(yield func(Result, error) bool) error {
	a := e.p.Root
	ba := e.b.Access(a)
	ns := e.db.ns
	lo, hi := join(ns, ba.Lo), join(ns, ba.Hi)
	if ba.After != nil {
		pos := join(ns, ba.After.Key)
		if lo, hi = afterBounds(lo, hi, pos, ba.Reverse); lo == nil {
			return nil
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	rows := rowStream{e: e, yield: yield}
	if ba.After != nil {
		// A limit reached before the first row resumes where this call
		// started.
		rows.cursor = query.FormatCursor(ba.After.Body, ba.After.Tag)
	}
	if ba.Exact {
		w, err := e.walker(lo, hi, false)
		if err != nil {
			return err
		}
		defer w.close()
		_, err = rows.emit(w, lo)
		return rows.end(err)
	}
	if ba.Reverse {
		return rows.end(e.reverseRows(&rows, lo, hi, ba.First))
	}
	return rows.end(e.forwardRows(&rows, lo, hi, ba.First))
}

// join returns a fresh a+b.
func join(a, b []byte) []byte {
	k := make([]byte, 0, len(a)+len(b))
	return append(append(k, a...), b...)
}

// afterBounds narrows [lo, hi) to the keys strictly after the object at
// pos in the scan's direction; lo is nil when nothing is left.
func afterBounds(lo, hi, pos []byte, reverse bool) ([]byte, []byte) {
	if reverse {
		return lo, minBound(hi, pos)
	}
	next := tuple.PrefixEnd(pos)
	if next == nil {
		return nil, nil
	}
	return maxBound(lo, next), hi
}

func (e *exec) forwardRows(rows *rowStream, lo, hi []byte, first int) error {
	w, err := e.walker(lo, hi, false)
	if err != nil {
		return err
	}
	defer w.close()
	for ok := w.first(); ok; {
		rowKey, err := e.rowKey(w.key)
		if err != nil {
			return err
		}
		if stop, err := rows.emit(w, rowKey); stop || err != nil {
			return err
		}
		if rows.pageDone(first) {
			return nil
		}
		ok = w.seekGE(tuple.PrefixEnd(rowKey))
		if ok && rows.atMaxRows() {
			return rows.limit()
		}
	}
	return e.err
}

func (e *exec) reverseRows(rows *rowStream, lo, hi []byte, first int) error {
	rw, err := e.walker(lo, hi, true)
	if err != nil {
		return err
	}
	defer rw.close()
	w, err := e.walker(lo, hi, false)
	if err != nil {
		return err
	}
	defer w.close()
	for ok := rw.first(); ok; {
		rowKey, err := e.rowKey(rw.key)
		if err != nil {
			return err
		}
		if stop, err := rows.emit(w, rowKey); stop || err != nil {
			return err
		}
		if rows.pageDone(first) {
			return nil
		}
		ok = rw.seekLT(rowKey)
		if ok && rows.atMaxRows() {
			return rows.limit()
		}
	}
	return e.err
}

// rowKey copies the row key that key starts with; valid until the next
// call.
func (e *exec) rowKey(key []byte) ([]byte, error) {
	n, err := e.t.rowKeyLen(key)
	if err != nil {
		return nil, err
	}
	e.rowBuf = append(e.rowBuf[:0], key[:n]...)
	return e.rowBuf, nil
}

// rowStream yields rows and enforces first and MaxRows.
type rowStream struct {
	e      *exec
	yield  func(Result, error) bool
	n      int
	cursor string
}

// emit reads the row at rowKey and yields it; stop reports that the
// caller stopped ranging.
func (s *rowStream) emit(w *walker, rowKey []byte) (stop bool, err error) {
	if err := s.e.ctx.Err(); err != nil {
		return true, err
	}
	m, err := s.e.row(w, rowKey)
	if err != nil || m == nil {
		return false, err
	}
	s.n++
	s.cursor = s.e.sign.cursor(s.e.p, s.e.p.Root, rowKey[len(s.e.db.ns):])
	res := Result{Msg: m, Cursor: s.cursor, MapCursors: s.e.mapCursors}
	s.e.mapCursors = nil
	if !s.yield(res, nil) {
		return true, errStopped
	}
	return false, nil
}

// pageDone reports whether the page asked for (first) is complete.
func (s *rowStream) pageDone(first int) bool { return first > 0 && s.n >= first }

// atMaxRows reports whether MaxRows rows were returned; with more rows to
// come, limit reports it.
func (s *rowStream) atMaxRows() bool { return s.e.lim.MaxRows > 0 && s.n >= s.e.lim.MaxRows }

func (s *rowStream) limit() error {
	return &LimitError{Limit: "rows", Max: s.e.lim.MaxRows, Cursor: s.cursor}
}

// end turns a limit hit into a LimitError carrying the last cursor.
func (s *rowStream) end(err error) error {
	var hit *limitHit
	if errors.As(err, &hit) {
		return &LimitError{Limit: hit.limit, Max: hit.max, Cursor: s.cursor}
	}
	return err
}

// row reads the row at rowKey with the plan's projection; nil when it does
// not exist.
func (e *exec) row(w *walker, rowKey []byte) (proto.Message, error) {
	e.asm.reset(rowKey, e.t.s.Root)
	found, err := e.object(w, rowKey, e.p.Proj, 0)
	if err != nil || !found {
		return nil, err
	}
	return e.decodeRow(e.t, rowKey, e.p.Proj)
}

// decodeRow unmarshals the assembled row and completes it: key fields,
// then joins.
func (e *exec) decodeRow(t *Table, rowKey []byte, p *query.Proj) (proto.Message, error) {
	m := e.db.NewMessage(t.s.Desc)
	if err := e.db.unmarshalOptions().Unmarshal(e.asm.finish(), m.Interface()); err != nil {
		return nil, corrupt(rowKey, "reassembled %s does not parse: %v", t.s.Desc.FullName(), err)
	}
	if err := t.setKeyFields(rowKey, m); err != nil {
		return nil, err
	}
	if p.HasJoins() || len(p.Hidden) > 0 {
		if err := e.joins(m, p); err != nil {
			return nil, err
		}
	}
	return m.Interface(), nil
}

// buf returns the reusable key buffer of nesting depth d.
func (e *exec) buf(d int) []byte {
	for len(e.kb) <= d {
		e.kb = append(e.kb, nil)
	}
	return e.kb[d][:0]
}

// object feeds the assembler the selected pairs of the object at key and
// reports whether the object exists (has any key). Whatever the
// projection, an existing object is fed its own key first, so it is
// present in the result even when nothing selected is stored.
func (e *exec) object(w *walker, key []byte, p *query.Proj, depth int) (bool, error) {
	if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
		return false, e.err
	}
	if p.All {
		for ok := true; ok && bytes.HasPrefix(w.key, key); ok = w.next() {
			if err := e.feed(w.key, w.val); err != nil {
				return true, err
			}
		}
		return true, e.err
	}
	var own []byte
	if len(w.key) == len(key) {
		var err error
		if own, err = e.filter(w.key, w.val, p); err != nil {
			return true, err
		}
	}
	if err := e.feed(key, own); err != nil {
		return true, err
	}
	for _, ch := range p.Children {
		ck := append(append(e.buf(depth+1), key...), ch.Elem...)
		e.kb[depth+1] = ck
		var err error
		switch ch.Field.Storage {
		case schema.Breakout:
			if w.seekGE(ck) && bytes.Equal(w.key, ck) {
				err = e.feed(ck, w.val)
			}
		case schema.Object:
			e.path = append(e.path, pathStep{field: ch.Field})
			_, err = e.object(w, ck, ch.Proj, depth+1)
			e.path = e.path[:len(e.path)-1]
		case schema.Map:
			e.path = append(e.path, pathStep{field: ch.Field})
			err = e.scanMap(w, key, ch, depth+1)
			e.path = e.path[:len(e.path)-1]
		}
		if err != nil {
			return true, err
		}
		if e.err != nil {
			return true, e.err
		}
	}
	return true, nil
}

// feed adds one pair to the assembler.
func (e *exec) feed(key, value []byte) error {
	return e.asm.add(key, value)
}

// filter returns the fields of an object's value that p keeps, checking
// the value's framing. The result is valid until the next call.
func (e *exec) filter(key, value []byte, p *query.Proj) ([]byte, error) {
	e.scratch = e.scratch[:0]
	for b := value; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, corrupt(key, "malformed value: %v", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, corrupt(key, "malformed value: %v", protowire.ParseError(m))
		}
		if p.Keeps(num) {
			e.scratch = append(e.scratch, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return e.scratch, nil
}

// scanMap feeds the selected entries of map ch of the object at parent.
func (e *exec) scanMap(w *walker, parent []byte, ch *query.Child, depth int) error {
	var ba query.BoundAccess
	if ch.Access != nil {
		ba = *e.b.Access(ch.Access)
	} else {
		ba.Lo = ch.Elem
		ba.Hi = tuple.PrefixEnd(ch.Elem)
	}
	lo, hi := join(parent, ba.Lo), join(parent, ba.Hi)
	if ba.After != nil {
		if lo, hi = afterBounds(lo, hi, join(parent, ba.After.Key), ba.Reverse); lo == nil {
			return nil
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	if ba.Exact {
		return e.entry(w, lo, len(parent), ch, depth)
	}
	scan := mapScan{e: e, parent: parent, hi: hi, ch: ch, first: ba.First, depth: depth}
	if ba.Reverse {
		return scan.reverse(w, lo)
	}
	return scan.forward(w, lo)
}

// mapScan reads the entries of one map in [lo, hi).
type mapScan struct {
	e      *exec
	parent []byte
	hi     []byte
	ch     *query.Child
	first  int
	depth  int
	n      int
}

// entryKey copies the key of the entry that key belongs to.
func (s *mapScan) entryKey(key []byte) ([]byte, error) {
	n, err := tuple.SkipElement(key[len(s.parent):])
	if err != nil {
		return nil, corrupt(key, "%v", err)
	}
	k := append(s.e.buf(s.depth), key[:len(s.parent)+n]...)
	s.e.kb[s.depth] = k
	return k, nil
}

func (s *mapScan) forward(w *walker, lo []byte) error {
	for ok := w.seekGE(lo); ok && bytes.Compare(w.key, s.hi) < 0; {
		ek, err := s.entryKey(w.key)
		if err != nil {
			return err
		}
		if err := s.e.entry(w, ek, len(s.parent), s.ch, s.depth); err != nil {
			return err
		}
		s.n++
		ok = w.seekGE(tuple.PrefixEnd(ek))
		if s.first > 0 && s.n >= s.first {
			if ok && bytes.Compare(w.key, s.hi) < 0 {
				s.e.mapCursor(s.ch, ek[len(s.parent):])
			}
			break
		}
	}
	return s.e.err
}

func (s *mapScan) reverse(w *walker, lo []byte) error {
	rw, err := s.e.walker(lo, s.hi, true)
	if err != nil {
		return err
	}
	defer rw.close()
	for ok := rw.first(); ok; {
		ek, err := s.entryKey(rw.key)
		if err != nil {
			return err
		}
		if err := s.e.entry(w, ek, len(s.parent), s.ch, s.depth); err != nil {
			return err
		}
		s.n++
		ok = rw.seekLT(ek)
		if s.first > 0 && s.n >= s.first {
			if ok {
				s.e.mapCursor(s.ch, ek[len(s.parent):])
			}
			break
		}
	}
	return s.e.err
}

// entry feeds one map entry: a scalar entry's single key, or a message
// entry with its projection. key is the entry's key, parentLen the length
// of its parent's.
func (e *exec) entry(w *walker, key []byte, parentLen int, ch *query.Child, depth int) error {
	e.path = append(e.path, pathStep{field: ch.Field, elem: key[parentLen:]})
	defer func() { e.path = e.path[:len(e.path)-1] }()
	if ch.Proj == nil {
		if w.seekGE(key) && bytes.Equal(w.key, key) {
			return e.feed(key, w.val)
		}
		return e.err
	}
	_, err := e.object(w, key, ch.Proj, depth)
	return err
}

// mapCursor records the cursor resuming map ch after the entry element
// elem, under the map's path in the row.
func (e *exec) mapCursor(ch *query.Child, elem []byte) {
	if e.inJoin {
		return
	}
	if e.mapCursors == nil {
		e.mapCursors = map[string]string{}
	}
	e.mapCursors[e.pathString()] = e.sign.cursor(e.p, ch.Access, elem)
}

// pathString renders e.path as `sessions["s1"].attrs`.
func (e *exec) pathString() string {
	var b []byte
	for _, s := range e.path {
		if s.elem == nil {
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = append(b, s.field.Name()...)
			continue
		}
		if el, _, err := tuple.DecodeElement(s.elem); err == nil {
			b = fmt.Appendf(b, "[%s]", elemValue(el))
		}
	}
	return string(b)
}

// walker is a counted forward or reverse iterator. A forward walker
// remembers the keyless gap before its position, so seeking to a key it
// has already passed (the next child after a whole subtree was read, the
// next row after the last child) costs nothing. Keys and values are the
// iterator's: valid until the next move.
type walker struct {
	e        *exec
	it       kv.Iterator
	valid    bool
	key, val []byte
	// No key lies in [gap, key), or (gap, key) when gapOpen; when the
	// walker is exhausted, none at or after gap.
	gap     []byte
	gapOpen bool
	moved   bool
}

func (e *exec) walker(lo, hi []byte, reverse bool) (*walker, error) {
	it, err := e.r.NewIter(e.ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: reverse})
	if err != nil {
		return nil, err
	}
	var w *walker
	if n := len(e.walkers); n > 0 {
		w, e.walkers = e.walkers[n-1], e.walkers[:n-1]
	} else {
		w = new(walker)
	}
	*w = walker{e: e, it: it, gap: w.gap[:0]}
	return w, nil
}

// close closes the iterator and keeps the walker for reuse.
func (w *walker) close() {
	w.it.Close()
	w.it, w.key, w.val = nil, nil, nil
	w.e.walkers = append(w.e.walkers, w)
}

// land records where a move ended, counting the key against the limits.
func (w *walker) land(ok bool) bool {
	w.valid, w.moved = ok, true
	if !ok {
		if err := w.it.Error(); err != nil && w.e.err == nil {
			w.e.err = err
		}
		return false
	}
	w.key, w.val = w.it.Key(), w.it.Value()
	e := w.e
	e.keys++
	e.bytes += len(w.key) + len(w.val)
	switch {
	case e.lim.MaxKeys > 0 && e.keys > e.lim.MaxKeys:
		e.err = &limitHit{limit: "keys", max: e.lim.MaxKeys}
	case e.lim.MaxBytes > 0 && e.bytes > e.lim.MaxBytes:
		e.err = &limitHit{limit: "bytes", max: e.lim.MaxBytes}
	default:
		return true
	}
	w.valid = false
	return false
}

// limitHit is the sticky error of an execution that reached a limit;
// rowStream.end turns it into a LimitError.
type limitHit struct {
	limit string
	max   int
}

func (h *limitHit) Error() string { return "runtime: " + h.limit + " limit reached" }

func (w *walker) first() bool {
	w.gap, w.gapOpen = w.gap[:0], false
	return w.land(w.it.First())
}

func (w *walker) next() bool {
	w.gap, w.gapOpen = append(w.gap[:0], w.key...), true
	return w.land(w.it.Next())
}

// seekGE positions at the first key >= k, without moving when the walker
// is known to be there already.
func (w *walker) seekGE(k []byte) bool {
	if w.e.err != nil {
		return false
	}
	if w.moved && w.covers(k) {
		return w.valid
	}
	w.gap, w.gapOpen = append(w.gap[:0], k...), false
	return w.land(w.it.SeekGE(k))
}

// covers reports whether k lies in the gap before the current position (or
// at the position itself), so that seeking to k would land where the
// walker is.
func (w *walker) covers(k []byte) bool {
	c := bytes.Compare(k, w.gap)
	if c < 0 || (c == 0 && w.gapOpen) {
		return false
	}
	return !w.valid || bytes.Compare(k, w.key) <= 0
}

func (w *walker) seekLT(k []byte) bool {
	if w.e.err != nil {
		return false
	}
	return w.land(w.it.SeekLT(k))
}

// joinReq asks for the target row at key, to be set in holder's join
// field.
type joinReq struct {
	ch     *query.Child
	holder protoreflect.Message
	key    []byte
}

// mapKey is the key of an enclosing map entry, for "$map" join sources.
type mapKey struct {
	field *schema.Field
	value protoreflect.Value
}

// joins fills the selected join fields of m (a decoded object with
// projection p, and everything below it): the target keys are gathered
// first, then each join field's targets are read in key order with one
// iterator.
func (e *exec) joins(m protoreflect.Message, p *query.Proj) error {
	var reqs []joinReq
	e.collect(m, p, nil, &reqs)
	for len(reqs) > 0 {
		ch := reqs[0].ch
		var group, rest []joinReq
		for _, r := range reqs {
			if r.ch == ch {
				group = append(group, r)
			} else {
				rest = append(rest, r)
			}
		}
		if err := e.fetchJoin(ch, group); err != nil {
			return err
		}
		reqs = rest
	}
	return nil
}

// collect gathers the join requests of m and below, and clears the inline
// fields read only as join sources.
func (e *exec) collect(m protoreflect.Message, p *query.Proj, keys []mapKey, reqs *[]joinReq) {
	fields := m.Descriptor().Fields()
	for _, j := range p.Joins {
		key := tuple.AppendUnit(bytes.Clone(e.db.ns), j.Target.ID)
		for i, src := range j.Field.Join.Sources {
			var v protoreflect.Value
			if src.Map != nil {
				for k := len(keys) - 1; k >= 0; k-- {
					if keys[k].field == src.Map {
						v = keys[k].value
						break
					}
				}
			} else {
				v = m.Get(fields.ByNumber(src.Field.Number()))
			}
			key = appendJoinElem(key, j.Target.Key[i], v)
		}
		*reqs = append(*reqs, joinReq{ch: j, holder: m, key: key})
	}
	for _, f := range p.Hidden {
		m.Clear(fields.ByNumber(f.Number()))
	}
	for _, ch := range p.Children {
		if ch.Proj == nil || !ch.Proj.HasJoins() {
			continue
		}
		fd := fields.ByNumber(ch.Field.Number())
		switch ch.Field.Storage {
		case schema.Object:
			if m.Has(fd) {
				e.collect(m.Mutable(fd).Message(), ch.Proj, keys, reqs)
			}
		case schema.Map:
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				e.collect(v.Message(), ch.Proj, append(keys[:len(keys):len(keys)], mapKey{ch.Field, k.Value()}), reqs)
				return true
			})
		}
	}
}

// appendJoinElem appends the element of a join target's key column with
// the source value v, whose Go type may differ from the column's (an int32
// map key for an int64 column, an int for an enum).
func appendJoinElem(b []byte, col *schema.Column, v protoreflect.Value) []byte {
	dir := tuple.Direction(col.Kind.IsDescending())
	num := uint32(col.Field.Number())
	switch col.Kind.Ascending() {
	case tuple.KindBool:
		return tuple.AppendBool(b, num, dir, v.Bool())
	case tuple.KindInt:
		if n, ok := v.Interface().(protoreflect.EnumNumber); ok {
			return tuple.AppendInt(b, num, dir, int64(n))
		}
		return tuple.AppendInt(b, num, dir, v.Int())
	case tuple.KindUint:
		return tuple.AppendUint(b, num, dir, v.Uint())
	case tuple.KindString:
		return tuple.AppendString(b, num, dir, v.String())
	}
	return tuple.AppendBytes(b, num, dir, v.Bytes())
}

// fetchJoin reads the target rows of one join field, sorted and deduplicated,
// with one iterator, and sets each in its holders.
func (e *exec) fetchJoin(ch *query.Child, group []joinReq) error {
	slices.SortStableFunc(group, func(a, b joinReq) int { return bytes.Compare(a.key, b.key) })
	t := e.db.tables[ch.Target.ID]
	w, err := e.walker(group[0].key, tuple.PrefixEnd(group[len(group)-1].key), false)
	if err != nil {
		return err
	}
	defer w.close()
	inJoin := e.inJoin
	e.inJoin = true
	defer func() { e.inJoin = inJoin }()
	fd := ch.Field.Desc
	for i := 0; i < len(group); {
		j := i + 1
		for j < len(group) && bytes.Equal(group[j].key, group[i].key) {
			j++
		}
		key := group[i].key
		e.asm.reset(key, t.s.Root)
		found, err := e.object(w, key, ch.Proj, 0)
		if err != nil {
			return err
		}
		if found {
			m, err := e.decodeRow(t, key, ch.Proj)
			if err != nil {
				return err
			}
			for k := i; k < j; k++ {
				if k > i {
					m = proto.Clone(m)
				}
				group[k].holder.Set(group[k].holder.Descriptor().Fields().ByNumber(fd.Number()), protoreflect.ValueOfMessage(m.ProtoReflect()))
			}
		}
		i = j
	}
	return nil
}
