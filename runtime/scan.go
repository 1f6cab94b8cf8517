package runtime

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The typed reads (Get, Scan, ScanMap) and the counts run on the query
// executor: an exec without a plan, limits or cursors, reading every unit
// whole with the projection that selects everything, stepped through by
// the same stepper as a query's rows and map pages (units.go).

// ScanOptions orients and bounds a scan of rows or map entries.
type ScanOptions struct {
	// Reverse visits results in descending key order.
	Reverse bool
	// Limit stops after this many results; 0 means no limit.
	Limit int
	// After resumes strictly after the row or entry this cursor names, in
	// the scan's direction: a cursor from a typed handle's Cursor method or
	// DB.ScanCursor, tamper-checked like a query's (a query cursor is
	// refused). Empty: from the start.
	After string
	// Fields, when not empty, makes a row scan read only these fields of
	// each row, like the paths of a google.protobuf.FieldMask
	// (mask.GetPaths()) given to a read: each is the name of a field of
	// the row's message, as in the .proto. The key fields are always set;
	// every other field is left unset. A map, object or breakout field
	// that is not listed is never read: the scan seeks past its keys, so
	// a scan of one small field costs about one key per row however large
	// the rows are. A listed map or object is read whole. Nested paths
	// (a.b) and join fields are refused with ErrInvalid, as are Fields on
	// a map scan.
	//
	// Without Reuse every row yielded is the caller's, a message of its
	// own that no other row shares. A projected scan of scalar fields
	// only (strings, bytes, numbers, bools, open enums, without presence) makes
	// its rows in slabs and cuts their strings from shared blocks: a row
	// kept after the scan keeps its slab alive — the messages of the rows
	// around it, 6.75 KiB in all, with what they hold — and a kept string the
	// block it was cut from (at most 4 KiB, or its own bytes when
	// longer; the first row's strings share one block of their size),
	// until all of them are dropped. proto.Clone a row kept for
	// long out of a large scan to hold only its own memory.
	Fields []string
	// Reuse lets a row scan decode every row into one message instead of a
	// new one per row: the message yielded for a row is valid only until
	// the loop body returns (like a Pebble iterator's key); the next row
	// clears and overwrites it. Keep a row with proto.Clone. Its strings
	// stay valid — they are not overwritten — but one kept string keeps
	// the block it was cut from alive, with the strings of the rows
	// around it (4 KiB, or its own bytes when longer; the first row's
	// strings share one block of their size). It saves the
	// allocation of each row's message: a projected scan of scalar fields
	// (Fields) then allocates only a block of strings now and then; a
	// scan of whole rows, or of maps and objects, still allocates what
	// proto.Unmarshal makes for the row's strings, maps and nested
	// messages. Map scans and index scans refuse it with ErrInvalid.
	Reuse bool
}

// wholeObject is the projection of a typed read: every pair of the object.
var wholeObject = &query.Proj{All: true}

// reader takes an execution from the pool for a typed read on r.
func (db *DB) reader(ctx context.Context, r kv.Reader) *exec {
	e := execPool.Get().(*exec)
	e.ctx, e.db, e.r, e.done = ctx, db, r, ctx.Done()
	return e
}

// readWhole feeds the assembler every pair of the object at key, with
// layout n, that projection p selects (wholeObject: all), and reports
// whether the object exists.
func (e *exec) readWhole(w *walker, key []byte, n *schema.Node, p *query.Proj) (bool, error) {
	e.asm.reset(key, n)
	return e.object(w, key, p, 0)
}

// readScalar returns the stored value of the scalar map entry at key
// (valid until the next read), and whether it exists; a key below the
// entry is corruption.
func (e *exec) readScalar(w *walker, key []byte) ([]byte, bool, error) {
	if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
		return nil, false, e.err
	}
	if len(w.key) != len(key) {
		return nil, false, corrupt(w.key, "a scalar map entry holds no keys below it")
	}
	e.scratch = append(e.scratch[:0], w.val...)
	if w.next() && bytes.HasPrefix(w.key, key) {
		return nil, false, corrupt(w.key, "a scalar map entry holds no keys below it")
	}
	return e.scratch, true, e.err
}

// get reads the object at ref into m. The iterators' Close errors are its
// when it has none of its own.
func get(ctx context.Context, r kv.Reader, ref Ref, m proto.Message) (err error) {
	if err := ref.wantObject(m); err != nil {
		return err
	}
	e := ref.table.db.reader(ctx, r)
	defer e.release()
	defer e.closeAparts(&err) // a row's fields stored apart
	w, err := e.under(ref.key)
	if err != nil {
		return err
	}
	defer w.closeInto(&err)
	mr := m.ProtoReflect()
	plan := decodePlanOf(mr) // looked up once, for the decode and the keys
	var dirPlan *msgPlan
	if ref.kind == RefRow {
		// The row's map entries that hold no keys below them go
		// straight into m's maps (direct.go), as in a query's row.
		dirPlan = plan
	}
	e.dir.start(dirPlan, ref.node)
	defer e.dir.start(nil, nil)
	found, err := e.readWhole(w, ref.key, ref.node, wholeObject)
	e.dir.stop()
	if err != nil {
		return err
	}
	if !found {
		return notFound(ref)
	}
	proto.Reset(m)
	// m is the Go message mr.Interface() gives when it is of the plan's
	// own type (the plan is built only for a struct its reflection reads,
	// buildPlan): decodePlan and fill then need not ask mr for it.
	var x proto.Message
	if plan != nil && reflect.TypeOf(m) == plan.typ {
		x = m
	}
	if err := ref.decodePlan(&e.dec, ref.key, e.asm.finish(), mr, x, plan); err != nil {
		return err
	}
	if err := e.dir.fill(&e.dec, ref.table.db.unmarshalOptions(), mr, x); err != nil {
		return corrupt(ref.key, "reassembled %s does not parse: %v", mr.Descriptor().FullName(), err)
	}
	return nil
}

// scanWhole reads the units of kind in [lo, hi) whole, with layout n (nil
// for scalar map entries), or with projection p (nil: whole), after
// opts.After in opts' direction, and calls emit with each one's key and
// wire bytes (a scalar entry's stored value), valid during the call, until
// emit returns false or opts.Limit units were emitted. With unfiltered
// set, a unit read by readOwn comes to emit as its own value, neither
// filtered by p nor checked: emit must filter it (filterChecked) unless it
// does the same in its own pass (rowPlan.decodeOwn). A forward scan of
// rows' inline fields runs on its own loop (scanOwn), which reads each
// row as readOwn does. The iterators' Close errors are returned when the
// scan has no error of its own, also after emit stopped it: a caller
// whose emit stopped because its consumer did must not report it there.
func (e *exec) scanWhole(lo, hi []byte, opts ScanOptions, kind unitKind, n *schema.Node, p *query.Proj, unfiltered bool, emit func(key, wire []byte) (bool, error)) (err error) {
	if p == nil {
		p = wholeObject
	}
	if opts.After != "" {
		at, err := e.db.scanPosition(opts.After)
		if err != nil {
			return err
		}
		if !kind.wholeUnit(at, lo) {
			// A cursor of another kind of thing (a map entry's given to a
			// row scan, say) would resume inside a unit, which would then
			// come back cut short as if whole.
			return fmt.Errorf("%w: ScanOptions.After is the cursor of key %s, not of a row or entry this scan returns: %w", ErrInvalid, kv.KeyText(at), query.ErrCursor)
		}
		var ok bool
		if lo, hi, ok = schema.After(lo, hi, at, opts.Reverse); !ok {
			return nil
		}
	}
	own := n != nil && inlineOnly(p) && !genericRowScan.Load()
	if own && !opts.Reverse && kind.table != nil && !steppedRowScan.Load() {
		return e.scanOwn(lo, hi, opts.Limit, kind.table, n, p, unfiltered, emit)
	}
	var s stepper
	if opts.Reverse && p == wholeObject && (n == nil || n.Parent != nil || len(n.Table.Apart) == 0) {
		err = e.stepsBack(&s, lo, hi, kind)
	} else {
		// Rows with fields apart are read forward, merging their
		// spaces; a projection skips keys, which the reverse walker
		// cannot: in reverse, it finds each unit, the forward walker
		// reads it.
		err = e.steps(&s, nil, lo, hi, opts.Reverse, kind, 0, nil)
	}
	defer func() {
		// The iterators' Close errors are the scan's when it has none
		// of its own (as scanOwn's): the stepper's, and those of the
		// apart walkers that read the rows' fields stored apart (opened
		// on first use; closed here rather than when the execution is
		// released, which would drop their errors).
		s.closeInto(&err)
		e.closeAparts(&err)
	}()
	if err != nil {
		return err
	}
	if own && !opts.Reverse {
		s.nexts = rowNexts(n)
	}
	count := 0
	ok, err := s.first()
	for ; ok; ok, err = s.next() {
		var wire []byte
		found := true
		switch {
		case s.back:
			wire, err = e.readBack(s.rev, s.unit, n)
		case n == nil:
			wire, found, err = e.readScalar(s.fwd, s.unit)
		case own:
			wire, found, err = e.readOwn(s.fwd, s.unit, n, p, unfiltered)
		default:
			if found, err = e.readWhole(s.fwd, s.unit, n, p); found {
				wire = e.asm.finish()
			}
		}
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		count++
		if more, err := emit(s.unit, wire); !more || err != nil {
			return err
		}
		if opts.Limit > 0 && count >= opts.Limit {
			return nil
		}
	}
	return err
}

// readBack reads the unit at key whole with the reverse walker w, which is
// on the unit's last key, and returns its wire bytes (a scalar entry's
// stored value), valid until the next read. The unit's pairs are held (one
// object's worth) and fed to the assembler in ascending order; w ends on
// the last key of the unit before.
func (e *exec) readBack(w *walker, key []byte, n *schema.Node) ([]byte, error) {
	e.held.reset()
	for ok := true; ok && bytes.HasPrefix(w.key, key); ok = w.next() {
		if n == nil && len(w.key) != len(key) {
			return nil, corrupt(w.key, "a scalar map entry holds no keys below it")
		}
		e.held.add(w.key, w.val)
	}
	if e.err != nil {
		return nil, e.err
	}
	if n == nil {
		return e.held.value(0), nil
	}
	e.asm.reset(key, n)
	for i := e.held.len() - 1; i >= 0; i-- {
		if err := e.asm.add(e.held.key(i), e.held.value(i)); err != nil {
			return nil, err
		}
	}
	return e.asm.finish(), nil
}

// pairs is an arena of key-value pairs: one unit's, read backwards.
type pairs struct {
	buf  []byte
	offs []int // key start, value start, per pair
}

func (p *pairs) reset() { p.buf, p.offs = p.buf[:0], p.offs[:0] }

func (p *pairs) add(k, v []byte) {
	p.offs = append(p.offs, len(p.buf))
	p.buf = append(p.buf, k...)
	p.offs = append(p.offs, len(p.buf))
	p.buf = append(p.buf, v...)
}

func (p *pairs) len() int { return len(p.offs) / 2 }

func (p *pairs) key(i int) []byte { return p.buf[p.offs[2*i]:p.offs[2*i+1]] }

func (p *pairs) value(i int) []byte {
	end := len(p.buf)
	if 2*i+2 < len(p.offs) {
		end = p.offs[2*i+2]
	}
	return p.buf[p.offs[2*i+1]:end]
}

// scanRows streams the rows of t in r.
func scanRows(ctx context.Context, rd kv.Reader, t *Table, r KeyRange, opts ScanOptions) iter.Seq2[proto.Message, error] {
	return func(yield func(proto.Message, error) bool) {
		var n rowCounts
		if stopped, err := scanRowsTo(ctx, rd, t, r, opts, nil, &n, yield); err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// rowCounts counts the rows a row scan (scanRowsTo) hands to its
// consumer, each before it is (see endRead), and those of them it made
// from their address (rowAt: see scanRowsTo).
type rowCounts struct {
	rows   int
	byAddr int
}

// scanRowsTo hands the rows of t in r to yield as Ms, as scanRows
// streams them, and counts them in n; it returns the
// scan's error without yielding it (the caller yields it unless stopped,
// then its consumer has ended the loop and yield must not be called
// again). typ, when not nil, is the Go struct type T of the caller's
// messages where M is *T (rowStruct[M]()): a row that the row plan decodes
// into a message of that type (the plan's type is typ) is made an M from
// its address (rowAt) without an interface value; every other row is its
// message asserted to M (messageAs, whose error ends the scan).
//
// The rows go from the scan's emit to yield itself, which is the
// consumer's loop body for the typed table's scan (TypedTable.Scan,
// scanRowsAs), not through a sequence per layer: each layer's loop body
// is a call and a few checks per row.
func scanRowsTo[M any](ctx context.Context, rd kv.Reader, t *Table, r KeyRange, opts ScanOptions, typ reflect.Type, n *rowCounts, yield func(M, error) bool) (stopped bool, err error) {
	lo, hi, err := t.bounds(r)
	if err != nil {
		return false, err
	}
	p, rp, err := t.projection(opts.Fields)
	if err != nil {
		return false, err
	}
	e := t.db.reader(ctx, rd)
	defer e.release()
	d := rowDecoder{e: e, t: t, p: p, rt: t.rowType(), reuse: opts.Reuse}
	generic := genericRowScan.Load()
	d.asFields = t.keysAsFields() && !generic
	d.plan = d.rt.plan
	if p != nil && inlineOnly(p) && !generic {
		d.plan = ownPlan(d.plan, p)
	}
	if generic || unplannedRowScan.Load() {
		rp = nil
	}
	if opts.Reuse || rp != nil {
		d.ra = &rowAlloc{reuse: opts.Reuse}
	}
	ra := d.ra
	var buf []byte // the row's bytes and its key fields (rowDecoder.decode)
	// Whether the rows the plan decodes are made Ms from their address:
	// the same for every row of the scan, so asked once.
	byAddr := rp != nil && typ != nil && typ == rp.typ
	// stopped is set when the consumer ended the loop: scanWhole may
	// still return an error (an iterator's Close), which then has no one
	// to go to (yield must not be called again).
	//
	// With a row plan, p selects inline fields only, so each row is read
	// by readOwn: unfiltered, its own value, which the plan filters and
	// decodes in one pass (decodeOwn) or, where it declines,
	// filterChecked filters as readOwn would have (rowDecoder.decode).
	err = e.scanWhole(lo, hi, opts, unitKind{table: t}, t.s.Root, p, rp != nil, func(key, wire []byte) (bool, error) {
		var v M
		if rp != nil {
			if at, ok := rp.decodeOwnAt(key, wire, ra, e.ownKeyCols()); ok {
				if byAddr {
					v = rowAt[M](at)
					n.byAddr++
				} else {
					var err error
					if v, err = messageAs[M](ra.message(rp, at)); err != nil {
						return false, err
					}
				}
				n.rows++
				stopped = !yield(v, nil)
				return !stopped, nil
			}
		}
		m, b, err := d.decode(key, wire, rp != nil, buf)
		buf = b
		if err == nil {
			v, err = messageAs[M](m)
		}
		if err != nil {
			return false, err
		}
		n.rows++
		stopped = !yield(v, nil)
		return !stopped, nil
	})
	return stopped, err
}

// rowDecoder is a row scan's decode of the rows its row plan does not
// decode (none, or it declined the row): scanRowsTo's emit calls it, so
// that the emit holds only the planned rows' path.
type rowDecoder struct {
	e        *exec
	t        *Table
	p        *query.Proj
	rt       *rowType
	plan     *msgPlan  // the decode plan of the rows' maps (ownPlan)
	asFields bool      // the key columns are decoded as fields (keysAsFields)
	reuse    bool      // ScanOptions.Reuse
	ra       *rowAlloc // the row plan's rows, and Reuse's message
}

// decode decodes the row at key whose bytes are wire (its own value,
// unfiltered, when the row plan declined it: planned) into a new message,
// or Reuse's, with buf for the row's bytes and its key fields, which it
// returns. (A value receiver, and d small: the emit that calls it keeps a
// copy of d rather than its address, which would move d to the heap.)
func (d rowDecoder) decode(key, wire []byte, planned bool, buf []byte) (proto.Message, []byte, error) {
	e, t := d.e, d.t
	if planned {
		var err error
		if wire, err = e.filterChecked(key, wire, t.s.Root, d.p); err != nil {
			return nil, buf, err
		}
	}
	if d.asFields {
		var err error
		if buf, err = t.appendKeyFields(append(buf[:0], wire...), key); err != nil {
			return nil, buf, err
		}
		wire = buf
	}
	var m protoreflect.Message
	if d.reuse {
		m = d.ra.generic(d.rt.mt)
	} else {
		m = d.rt.mt.New()
	}
	if err := e.dec.unmarshalPlan(t.db.unmarshalOptions(), wire, m, 0, d.plan); err != nil {
		return nil, buf, corrupt(key, "reassembled %s does not parse: %v", t.s.Desc.FullName(), err)
	}
	if !d.asFields {
		if err := t.setKeys(key, m, nil, d.rt.plan); err != nil {
			return nil, buf, err
		}
	}
	return m.Interface(), buf, nil
}

// scanEntries streams the entries of the map at ref within [Lower, Upper).
// With ob (a DB's, not a Tx's), each ranging is one observed read
// (readScanMap), of the entries handed to the caller (see endRead).
func scanEntries(ctx context.Context, rd kv.Reader, ref Ref, r KeyRange, opts ScanOptions, ob *observer) iter.Seq2[MapEntry, error] {
	return func(yield func(MapEntry, error) bool) {
		var st entryScan
		if ob == nil {
			scanEntriesTo(ctx, rd, ref, r, opts, &st, yield)
			return
		}
		ctx, c := ob.startRead(ctx, readScanMap)
		err := errUnwound // what the deferred end sees if the caller's loop body panics
		defer func() { ob.endRead(ctx, c, readScanMap, ref.table, nil, st.n, err) }()
		err = scanEntriesTo(ctx, rd, ref, r, opts, &st, yield)
	}
}

// entryScan is the state of one map scan (scanEntriesTo), one variable
// that its emit captures and its caller's deferred end reads.
type entryScan struct {
	stopped bool // as scanRowsTo's
	// n counts the entries handed to the caller, each before it is (see
	// endRead): one whose loop body panics is counted.
	n int
}

// scanEntriesTo is scanEntries' scan: it yields the entries, counting
// them in st, then the error if any (unless yield stopped it), and
// returns the error it met.
func scanEntriesTo(ctx context.Context, rd kv.Reader, ref Ref, r KeyRange, opts ScanOptions, st *entryScan, yield func(MapEntry, error) bool) error {
	lo, hi, err := ref.mapBounds(r)
	switch {
	case err != nil:
	case len(opts.Fields) > 0:
		err = invalid("%s: ScanOptions.Fields applies to row scans, not to map scans", ref)
	case opts.Reuse:
		err = invalid("%s: ScanOptions.Reuse applies to row scans, not to map scans", ref)
	}
	if err != nil {
		yield(MapEntry{}, err)
		return err
	}
	e := ref.table.db.reader(ctx, rd)
	defer e.release()
	err = e.scanWhole(lo, hi, opts, unitKind{parentLen: ref.parentLen}, ref.field.Child, nil, false, func(key, wire []byte) (bool, error) {
		entry, err := ref.decodeEntry(key, wire)
		if err != nil {
			return false, err
		}
		st.n++
		st.stopped = !yield(entry, nil)
		return !st.stopped, nil
	})
	if err != nil && !st.stopped {
		yield(MapEntry{}, err)
	}
	return err
}

// projCache holds a table's projections for ScanOptions.Fields, by the
// fields' names joined with commas; at most maxProjs.
type projCache struct {
	mu sync.Mutex
	m  map[string]scanProj
}

// scanProj is a projection of ScanOptions.Fields and its row plan (nil
// when it has none: rowplan.go).
type scanProj struct {
	p    *query.Proj
	plan *rowPlan
}

const maxProjs = 64

// projection returns the projection reading the top-level fields of t's
// rows named in fields, nil for none (whole rows), and its row plan (nil
// when it has none). It is the projection of the query `T { f1, f2 }`,
// compiled once per list of fields.
func (t *Table) projection(fields []string) (*query.Proj, *rowPlan, error) {
	if len(fields) == 0 {
		return nil, nil, nil
	}
	name := strings.Join(fields, ",")
	c := &t.projs
	c.mu.Lock()
	sp, ok := c.m[name]
	c.mu.Unlock()
	if ok {
		return sp.p, sp.plan, nil
	}
	md := t.s.Desc
	for _, f := range fields {
		fd := md.Fields().ByName(protoreflect.Name(f))
		switch {
		case strings.Contains(f, "."):
			return nil, nil, invalid("ScanOptions.Fields: %q: a nested path; list top-level fields of %s", f, md.FullName())
		case fd == nil:
			return nil, nil, invalid("ScanOptions.Fields: %s has no field %q", md.FullName(), f)
		}
	}
	q, err := query.Compile(t.db.cat, string(md.FullName())+" { "+strings.Join(fields, ", ")+" }")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: ScanOptions.Fields %q: %w", ErrInvalid, fields, err)
	}
	sp.p = q.Plan().Proj
	if sp.p.HasJoins() || len(sp.p.Hidden) > 0 {
		return nil, nil, invalid("ScanOptions.Fields %q: a typed scan does not read join fields", fields)
	}
	if inlineOnly(sp.p) {
		sp.plan = newRowPlan(t, t.rowType().mt, sp.p)
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]scanProj{}
	}
	if len(c.m) < maxProjs {
		c.m[name] = sp
	}
	c.mu.Unlock()
	return sp.p, sp.plan, nil
}
