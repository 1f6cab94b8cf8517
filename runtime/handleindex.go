package runtime

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"reflect"
	"slices"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TableIndex is the typed view of a secondary index of a table whose rows
// are of Go type M. V is the Go type of the index's values: the column's
// Go type for a one-column index, a struct of the columns for a composite
// one (with a function listing its values in column order). Generated
// code returns one per index (users.ByEmail()). Its methods run on the
// Querier of the TypedTable it was made from (a *DB reads one snapshot
// per call; a *Tx its transaction's); it is safe for concurrent use when
// that Querier is.
type TableIndex[V any, M proto.Message] struct {
	t    *Table
	ix   *schema.Index
	q    Querier
	vals func(V) []protoreflect.Value
	err  error
}

// NewTableIndex returns the typed view of the index named name of x's
// table. vals lists a V's values in column order; nil means V is the Go
// type of the one column. vals may list the leading columns only, making
// a view for prefix lookups (see Find). An unknown index, or a composite
// one without vals, makes every call fail with ErrInvalid. It does no
// I/O.
func NewTableIndex[V, K any, M proto.Message](x TypedTable[K, M], name string, vals func(V) []protoreflect.Value) TableIndex[V, M] {
	h := TableIndex[V, M]{t: x.t, q: x.q, vals: vals}
	switch {
	case x.t == nil:
		h.err = invalid("a zero TypedTable has no indexes")
	case x.t.s.Index(name) == nil:
		h.err = invalid("table %s has no index %q", x.t.s.Desc.Name(), name)
	default:
		h.ix = x.t.s.Index(name)
		h.err = checkValsFunc(h.ix, vals != nil)
	}
	return h
}

func checkValsFunc(ix *schema.Index, given bool) error {
	if !given && len(ix.Columns) > 1 {
		return invalid("index %s has %d columns; its typed view needs a values function", ix.Path(), len(ix.Columns))
	}
	return nil
}

// In returns the index bound to q (see TypedTable.In). It does no I/O.
func (x TableIndex[V, M]) In(q Querier) TableIndex[V, M] {
	x.q = bound(x.t, q)
	return x
}

// Index returns the index's layout.
func (x TableIndex[V, M]) Index() *schema.Index { return x.ix }

// check returns the error every call of x fails with: the one NewTableIndex
// recorded, or ErrInvalid for a zero TableIndex, which has no index.
func (x TableIndex[V, M]) check() error {
	if x.err == nil && x.ix == nil {
		return invalid("a zero TableIndex has no index: make one with NewTableIndex or the generated table's index method")
	}
	return x.err
}

// Get returns the row whose indexed fields hold v, through a unique
// index: one index key, then the row's key range. It returns an error
// wrapping ErrNotFound when no row holds v, and ErrInvalid on an index
// that is not unique (use Find) or when the values function lists
// another number of values than the index has columns.
func (x TableIndex[V, M]) Get(ctx context.Context, v V) (M, error) {
	var zero M
	// The pooled call holds a one-column index's value: a slice of its
	// own escaped (a KeyRange escapes as a whole with its bounds), an
	// allocation per Get.
	c := indexCallPool.Get().(*indexCall)
	defer c.release()
	vals, err := indexValuesIn(&c.one, x.vals, v)
	switch {
	case x.check() != nil:
		return zero, x.check()
	case !x.ix.Unique:
		return zero, invalid("index %s is not unique: Get finds one row through a unique index; use Find", x.ix.Path())
	case err != nil:
		return zero, err
	case len(vals) != len(x.ix.Columns):
		return zero, invalid("index %s has %d columns; Get was given %d values", x.ix.Path(), len(x.ix.Columns), len(vals))
	}
	// indexGet, not Find's iterator (whose closures and their state
	// escaped) nor an emit closure of Get's own (it and the variable it
	// filled were 2 allocations): all the values make one point read, whose
	// row the pooled call decodes and keeps.
	m, err := c.indexGet(ctx, x.q, x.t, x.ix, KeyRange{Prefix: vals}, x.t.db.ns, reflect.TypeFor[M]())
	switch {
	case err != nil:
		return zero, err
	case m == nil:
		return zero, notFoundIndex(x.ix, vals)
	}
	return m.Interface().(M), nil // indexGet checked its type
}

// Find streams the rows whose indexed fields hold v, in index order (the
// order of the rows' keys, for a non-unique index); opts limits or
// reverses the scan, and ScanOptions.After resumes it after the index
// entry of a row it returned (see Cursor).
//
// v's values are a prefix of the index: when the values function lists
// fewer values than the index has columns, Find streams every row whose
// leading columns hold them, in index order (the remaining columns, then
// the rows' keys), as a query given that prefix of the index's keys does
// and as Scan with the leading columns fixed; none streams the whole
// index. More values than columns are refused with ErrInvalid. Get, a
// lookup of one row, needs one value per column.
func (x TableIndex[V, M]) Find(ctx context.Context, v V, opts ScanOptions) iter.Seq2[M, error] {
	vals, err := findValues(x.ix, x.vals, v)
	if x.err == nil {
		x.err = err
	}
	return x.scan(ctx, KeyRange{Prefix: vals}, opts)
}

// findValues is indexValues for Find: at most one value per column of ix
// (nil when the handle has no index, which its check reports).
func findValues[V any](ix *schema.Index, vals func(V) []protoreflect.Value, v V) ([]protoreflect.Value, error) {
	vs, err := indexValues(vals, v)
	if err == nil && ix != nil && len(vs) > len(ix.Columns) {
		return nil, invalid("index %s has %d columns; Find was given %d values", ix.Path(), len(ix.Columns), len(vs))
	}
	return vs, err
}

// Scan streams the rows whose index entries are in r (nil: the whole
// index), in index order; see Find for opts. r fixes leading columns and
// bounds the next, like a primary-key Range: build it with Fix, AtLeast,
// Below and Between.
func (x TableIndex[V, M]) Scan(ctx context.Context, r Keys[V], opts ScanOptions) iter.Seq2[M, error] {
	var kr KeyRange
	if r != nil {
		rg := r.rangeOf()
		if kr = rg.kr; rg.err != nil && x.err == nil {
			x.err = rg.err
		}
	}
	return x.scan(ctx, kr, opts)
}

// Cursor returns the cursor of m's entry in the index, to pass as
// ScanOptions.After to resume a Find or Scan of the index right after m
// (after m's entry: rows with the same values continue in key order). It
// does no I/O. A row without an entry (an indexed field with presence
// unset), or with several (an index over a repeated field holding several
// elements), is refused: for the latter, CursorAt names the entry.
func (x TableIndex[V, M]) Cursor(m M) (string, error) {
	return x.cursor(m, nil)
}

// CursorAt is Cursor for m's entry holding the values v (the entry a scan
// over a repeated field returned m for). v names the entry by one value
// per column: a values function listing fewer (a view for prefix lookups
// with Find) or more is refused with ErrInvalid.
func (x TableIndex[V, M]) CursorAt(v V, m M) (string, error) {
	vals, err := indexValues(x.vals, v)
	if err != nil {
		return "", err
	}
	return x.cursor(m, vals)
}

func (x TableIndex[V, M]) cursor(m M, vals []protoreflect.Value) (string, error) {
	if err := x.check(); err != nil {
		return "", err
	}
	if isNil(m) {
		return "", invalid("Cursor of a nil %T", m)
	}
	ref, err := x.t.RowOf(m)
	if err != nil {
		return "", err
	}
	return entryCursor(x.t.db, x.ix, ref.key, 0, m, vals, ref.node)
}

// indexValues lists v's values in column order: vals(v), or v itself for
// a one-column index.
func indexValues[V any](vals func(V) []protoreflect.Value, v V) ([]protoreflect.Value, error) {
	return indexValuesIn(new([1]protoreflect.Value), vals, v)
}

// indexValuesIn is indexValues, holding a one-column index's value in one.
func indexValuesIn[V any](one *[1]protoreflect.Value, vals func(V) []protoreflect.Value, v V) ([]protoreflect.Value, error) {
	if vals != nil {
		return vals(v), nil
	}
	pv, err := valueOf(v)
	if err != nil {
		return nil, invalid("index value: %v", err)
	}
	one[0] = pv
	return one[:], nil
}

func (x TableIndex[V, M]) scan(ctx context.Context, kr KeyRange, opts ScanOptions) iter.Seq2[M, error] {
	return func(yield func(M, error) bool) {
		var zero M
		if err := x.check(); err != nil {
			yield(zero, err)
			return
		}
		var dec decoder
		// stopped is set when the consumer ended the loop: indexRead may
		// still return an error (an iterator's Close), which then has no
		// one to go to (as scanRowsTo's).
		stopped := false
		err := indexRead(ctx, x.q, x.t.db, x.ix, kr, opts, x.t.db.ns, readIndexScan, func(key, wire []byte) (bool, error) {
			m := x.t.db.NewMessage(x.t.s.Desc)
			ref := Ref{table: x.t, kind: RefRow, node: x.t.s.Root}
			if err := ref.decode(&dec, key, wire, m); err != nil {
				return false, err
			}
			v, err := messageAs[M](m.Interface())
			if err != nil {
				return false, err
			}
			stopped = !yield(v, nil)
			return !stopped, nil
		})
		if err != nil && !stopped {
			yield(zero, err)
		}
	}
}

// MapIndex is the typed view of a map-scoped index of one map, whose
// entries have keys of Go type K and message values of Go type M; V is as
// for TableIndex. Generated code returns one per index of a map
// (nb.Row(o, n).Notes().ByDone()). It reads the entries of the one map it
// was made from, on its Querier.
type MapIndex[V, K any, M proto.Message] struct {
	h    Handle
	ix   *schema.Index
	vals func(V) []protoreflect.Value
	err  error
}

// NewMapIndex returns the typed view of the index named name of the map
// m. vals is as for NewTableIndex. It does no I/O.
func NewMapIndex[V, K any, M proto.Message](m ObjectMap[K, M], name string, vals func(V) []protoreflect.Value) MapIndex[V, K, M] {
	x := MapIndex[V, K, M]{h: m.Handle, vals: vals}
	switch {
	case m.Handle.err != nil:
		x.err = m.Handle.err
	case m.Handle.ref.kind != RefMap:
		x.err = invalid("%s is not a map", m.Handle.ref)
	case m.Handle.ref.field.Index(name) == nil:
		x.err = invalid("map %s has no index %q", m.Handle.ref.field.Path(), name)
	default:
		x.ix = m.Handle.ref.field.Index(name)
		x.err = checkValsFunc(x.ix, vals != nil)
	}
	return x
}

// Index returns the index's layout.
func (x MapIndex[V, K, M]) Index() *schema.Index { return x.ix }

// check is TableIndex.check for a map index.
func (x MapIndex[V, K, M]) check() error {
	if x.err == nil && x.ix == nil {
		return invalid("a zero MapIndex has no index: make one with NewMapIndex or the generated map's index method")
	}
	return x.err
}

// Get returns the entry whose indexed fields hold v, through a unique
// index: one index key, then the entry. It returns an error wrapping
// ErrNotFound when no entry holds v, and ErrInvalid on an index that is
// not unique or values that are not one per column (as TableIndex.Get).
func (x MapIndex[V, K, M]) Get(ctx context.Context, v V) (Entry[K, M], error) {
	vals, err := indexValues(x.vals, v)
	switch {
	case x.check() != nil:
		return Entry[K, M]{}, x.check()
	case !x.ix.Unique:
		return Entry[K, M]{}, invalid("index %s is not unique: Get finds one entry through a unique index; use Find", x.ix.Path())
	case err != nil:
		return Entry[K, M]{}, err
	case len(vals) != len(x.ix.Columns):
		return Entry[K, M]{}, invalid("index %s has %d columns; Get was given %d values", x.ix.Path(), len(x.ix.Columns), len(vals))
	}
	// As TableIndex.Get's, not an emit closure of Get's own (it and the
	// result it filled were 2 allocations): the pooled call decodes the
	// entry and checks its Go types (indexGetEntry).
	ref := x.h.ref
	me, found, err := indexGetEntry(ctx, x.h.q, ref, x.ix, KeyRange{Prefix: vals}, reflect.TypeFor[K](), reflect.TypeFor[M]())
	switch {
	case err != nil:
		return Entry[K, M]{}, err
	case !found:
		return Entry[K, M]{}, notFoundIndex(x.ix, vals)
	}
	// indexGetEntry checked the types: valueAs converts.
	var out Entry[K, M]
	if out.Key, err = valueAs[K](me.Key, ref.field.MapKey); err == nil {
		out.Value, err = valueAs[M](me.Value, ref.field.MapValue)
	}
	if err != nil {
		return Entry[K, M]{}, err
	}
	return out, nil
}

// Find streams the entries whose indexed fields hold v, in index order;
// see TableIndex.Find for opts and for values that are a prefix of the
// index (fewer than its columns: every entry whose leading columns hold
// them).
func (x MapIndex[V, K, M]) Find(ctx context.Context, v V, opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	vals, err := findValues(x.ix, x.vals, v)
	if x.err == nil {
		x.err = err
	}
	return x.scan(ctx, KeyRange{Prefix: vals}, opts)
}

// Scan streams the entries whose index entries are in r (nil: the whole
// index), in index order; see TableIndex.Scan.
func (x MapIndex[V, K, M]) Scan(ctx context.Context, r Keys[V], opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	var kr KeyRange
	if r != nil {
		rg := r.rangeOf()
		if kr = rg.kr; rg.err != nil && x.err == nil {
			x.err = rg.err
		}
	}
	return x.scan(ctx, kr, opts)
}

// Cursor returns the cursor of e's entry in the index, to pass as
// ScanOptions.After to resume a Find or Scan of the index right after e;
// see TableIndex.Cursor.
func (x MapIndex[V, K, M]) Cursor(e Entry[K, M]) (string, error) {
	return x.cursor(e, nil)
}

// CursorAt is Cursor for e's index entry holding the values v, one per
// column (see TableIndex.CursorAt).
func (x MapIndex[V, K, M]) CursorAt(v V, e Entry[K, M]) (string, error) {
	vals, err := indexValues(x.vals, v)
	if err != nil {
		return "", err
	}
	return x.cursor(e, vals)
}

func (x MapIndex[V, K, M]) cursor(e Entry[K, M], vals []protoreflect.Value) (string, error) {
	if err := x.check(); err != nil {
		return "", err
	}
	if isNil(e.Value) {
		return "", invalid("Cursor of an entry with a nil %T", e.Value)
	}
	h := entry(x.h, e.Key)
	if h.err != nil {
		return "", h.err
	}
	return entryCursor(h.ref.table.db, x.ix, h.ref.key, h.ref.parentLen, e.Value, vals, h.ref.node)
}

func (x MapIndex[V, K, M]) scan(ctx context.Context, kr KeyRange, opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	return func(yield func(Entry[K, M], error) bool) {
		if err := x.check(); err != nil {
			yield(Entry[K, M]{}, err)
			return
		}
		ref := x.h.ref
		owner := ref.key[:ref.parentLen]
		stopped := false // as TableIndex.scan's
		err := indexRead(ctx, x.h.q, ref.table.db, x.ix, kr, opts, owner, readIndexScan, func(key, wire []byte) (bool, error) {
			me, err := ref.decodeEntry(key, wire)
			var out Entry[K, M]
			if err == nil {
				out.Key, err = valueAs[K](me.Key, ref.field.MapKey)
			}
			if err == nil {
				out.Value, err = valueAs[M](me.Value, ref.field.MapValue)
			}
			if err != nil {
				return false, err
			}
			stopped = !yield(out, nil)
			return !stopped, nil
		})
		if err != nil && !stopped {
			yield(Entry[K, M]{}, err)
		}
	}
}

// indexRead reads, on q (a snapshot of a *DB's store, or a *Tx's reads),
// the objects that the entries of index ix under base, in kr, name, and
// calls emit with each one's key and wire bytes until it returns false
// or opts.Limit objects were emitted. base is what the entries and the
// targets extend: the namespace for a table index, the holding object's
// key for a map's.
// On a *DB it is one observed read of op (readIndexGet, readIndexScan),
// of the objects emit took (see endRead and indexCall.count).
func indexRead(ctx context.Context, q Querier, db *DB, ix *schema.Index, kr KeyRange, opts ScanOptions, base []byte, op readOp, emit func(key, wire []byte) (bool, error)) error {
	c := indexCallPool.Get().(*indexCall)
	defer c.release()
	return c.observed(ctx, q, db, ix, kr, opts, base, op, emit)
}

// indexGet is indexRead on c of one row of table t through a unique
// index's point read (readIndexGet, one value per column in kr): it
// returns the row decoded, or nil when no entry holds the values. The row is checked
// to be of Go type want (messageAs's check, without a function value per
// type, which was an allocation), inside the read as an emit would.
func (c *indexCall) indexGet(ctx context.Context, q Querier, t *Table, ix *schema.Index, kr KeyRange, base []byte, want reflect.Type) (protoreflect.Message, error) {
	c.rowTable, c.rowType = t, want
	err := c.observed(ctx, q, t.db, ix, kr, ScanOptions{Limit: 1}, base, readIndexGet, c.rowFn)
	if err != nil {
		return nil, err
	}
	return c.row, nil
}

// indexGetEntry is indexGet of an entry of the map at ref: it returns the
// entry decoded, and whether an entry holds the values. The entry's key
// and value are checked to be of Go types key and value, as valueAs
// checks them, inside the read as an emit would (see
// indexCall.decodeEntry).
func indexGetEntry(ctx context.Context, q Querier, ref Ref, ix *schema.Index, kr KeyRange, key, value reflect.Type) (MapEntry, bool, error) {
	c := indexCallPool.Get().(*indexCall)
	defer c.release()
	c.entryRef, c.keyType, c.valueType = ref, key, value
	err := c.observed(ctx, q, ref.table.db, ix, kr, ScanOptions{Limit: 1}, ref.key[:ref.parentLen], readIndexGet, c.entryFn)
	return c.entry, c.found, err
}

// observed is indexRead on c.
func (c *indexCall) observed(ctx context.Context, q Querier, db *DB, ix *schema.Index, kr KeyRange, opts ScanOptions, base []byte, op readOp, emit func(key, wire []byte) (bool, error)) error {
	d, ok := q.(*DB)
	if !ok {
		return c.readIndex(ctx, q, db, ix, kr, opts, base, emit)
	}
	ctx, ob := d.obs.startRead(ctx, op)
	err := errUnwound // what the deferred end sees if emit (the caller's loop body) panics
	// c.emitted, read before c is released (defers run last first)
	defer func() { d.obs.endRead(ctx, ob, op, nil, ix, c.emitted, err) }()
	err = c.readIndex(ctx, q, db, ix, kr, opts, base, emit)
	return err
}

// readIndex is indexRead, unobserved, on c, which counts the objects emit
// took in c.emitted.
func (c *indexCall) readIndex(ctx context.Context, q Querier, db *DB, ix *schema.Index, kr KeyRange, opts ScanOptions, base []byte, emit func(key, wire []byte) (bool, error)) error {
	if len(opts.Fields) > 0 {
		return invalid("ScanOptions.Fields on a scan of index %s: project an index scan with a query", ix.Path())
	}
	if opts.Reuse {
		return invalid("ScanOptions.Reuse on a scan of index %s: it applies to row scans", ix.Path())
	}
	// A unique index's entry is its values alone: all of them name at most
	// one entry, which a point read finds without an iterator (and
	// without the entries' upper bound).
	point := ix.Unique && opts.After == "" && len(kr.Prefix) == len(ix.Columns)
	// The index's prefix under base (for a map's index the owner's key
	// is base) and the bounds are built in c's buffer, kept across pooled
	// calls: the stores copy the keys they keep (a Txn's read set, a
	// NotFoundError), and c's fields are dropped before it is pooled
	// again.
	prefix := ix.AppendPrefix(append(c.buf[:0], base...), nil)
	n := len(prefix)
	lo, hi, err := indexBounds(ix, prefix, kr, point)
	if err != nil {
		return err
	}
	prefix = lo[:n:n] // what indexBounds appended to may have moved
	if cap(lo) <= maxIndexBuf {
		c.buf = lo[:0]
	}
	if opts.After != "" {
		var ok bool
		if lo, hi, ok, err = db.indexAfter(ix, opts.After, lo, hi, opts.Reverse, prefix, len(base)); err != nil || !ok {
			return err
		}
	}
	c.ctx, c.db, c.ix, c.lo, c.hi, c.base, c.opts, c.point, c.emit = ctx, db, ix, lo, hi, base, opts, point, emit
	switch q := q.(type) {
	case *Tx:
		err = c.read(q.r)
	case *DB:
		err = q.store.View(ctx, c.readFn)
	case nil:
		err = invalid("a zero typed handle has no DB")
	case otherDB:
		err = q.err
	default:
		err = invalid("index reads run on a *DB or a *Tx, not a %T", q)
	}
	return err
}

// indexCall is indexRead's read of a snapshot (read) and its arguments,
// with the count of the objects emit took. It is pooled, with its method
// values made once per pooled call: the function passed to a store's View
// escapes, so a closure was an allocation per read; the store calls it
// only before View returns.
type indexCall struct {
	ctx          context.Context
	db           *DB
	ix           *schema.Index
	lo, hi, base []byte
	opts         ScanOptions
	point        bool
	emit         func(key, wire []byte) (bool, error)
	emitted      int
	readFn       func(kv.Reader) error                // c.read
	emitFn       func(key, wire []byte) (bool, error) // c.count
	buf          []byte                               // the bounds' bytes, kept across calls

	// indexGet's: the table whose row emit (rowFn: c.decodeRow) decodes
	// into row, checked to be of Go type rowType.
	rowTable *Table
	rowType  reflect.Type
	row      protoreflect.Message
	rowFn    func(key, wire []byte) (bool, error)
	one      [1]protoreflect.Value // TableIndex.Get's value (indexValuesIn)

	// indexGetEntry's: the map whose entry emit (entryFn:
	// c.decodeEntry) decodes into entry (found), checked to be of Go
	// types keyType and valueType.
	entryRef           Ref
	keyType, valueType reflect.Type
	entry              MapEntry
	found              bool
	entryFn            func(key, wire []byte) (bool, error)
}

// checkMessageType is messageAs's check and error, of a type known by its
// reflect.Type: m must be of type want, or implement it when it is an
// interface.
func checkMessageType(m proto.Message, want reflect.Type) error {
	got := reflect.TypeOf(m)
	if got == want || want.Kind() == reflect.Interface && got.Implements(want) {
		return nil
	}
	name := want.String() // what %T prints of a zero value of want
	if want.Kind() == reflect.Interface {
		name = "<nil>"
	}
	return invalid("got a %T where %s was expected: open the DB with WithSchema and the linked File_ descriptor of the generated package", m, name)
}

// maxIndexBuf is the capacity of the largest bounds buffer an indexCall
// keeps for its next use.
const maxIndexBuf = 1 << 10

var indexCallPool = sync.Pool{New: func() any {
	c := new(indexCall)
	c.readFn, c.emitFn, c.rowFn, c.entryFn = c.read, c.count, c.decodeRow, c.decodeEntry
	return c
}}

// release empties c, dropping what it refers to, and pools it.
func (c *indexCall) release() {
	*c = indexCall{readFn: c.readFn, emitFn: c.emitFn, rowFn: c.rowFn, entryFn: c.entryFn, buf: c.buf[:0]}
	indexCallPool.Put(c)
}

// decodeEntry is indexGetEntry's emit: it decodes the entry at key of the
// map at c.entryRef into c.entry, checks its key's and value's Go types
// (valueAs's checks and errors, by reflect.Type: a generic function value
// per type would be an allocation), and ends the read.
func (c *indexCall) decodeEntry(key, wire []byte) (bool, error) {
	ref := c.entryRef
	me, err := ref.decodeEntry(key, wire)
	if err == nil {
		err = checkScalarType(ref.field.MapKey, c.keyType)
	}
	if err == nil {
		err = checkObjectType(me.Value, c.valueType)
	}
	if err != nil {
		return false, err
	}
	c.entry, c.found = me, true
	return false, nil
}

// zeroTypeName is what %T prints of a zero value of Go type t: "<nil>" for
// an interface type.
func zeroTypeName(t reflect.Type) string {
	if t.Kind() == reflect.Interface {
		return "<nil>"
	}
	return t.String()
}

// checkScalarType is valueAs's check of a scalar field fd's values as Go
// type want (nil for a field of another kind, which valueAs checks).
func checkScalarType(fd protoreflect.FieldDescriptor, want reflect.Type) error {
	if got, scalar := goScalar[fd.Kind()]; scalar && got != want {
		return invalid("%s is a %s field, not a %s", fd.FullName(), fd.Kind(), zeroTypeName(want))
	}
	return nil
}

// checkObjectType is valueAs's check of a message value v (a map entry's)
// as Go type want, a proto.Message: want must be the message's type. An
// interface type is refused, as valueAsObject refuses its nil zero value;
// so is a value that is not a message.
func checkObjectType(v protoreflect.Value, want reflect.Type) error {
	if m, ok := v.Interface().(protoreflect.Message); ok && want.Kind() != reflect.Interface {
		return checkMessageType(m.Interface(), want)
	}
	return invalid("got a %T where %s was expected", v.Interface(), zeroTypeName(want))
}

// decodeRow is indexGet's emit: it decodes the row at key of c.rowTable
// into c.row, and ends the read.
func (c *indexCall) decodeRow(key, wire []byte) (bool, error) {
	t := c.rowTable
	m := t.db.NewMessage(t.s.Desc)
	ref := Ref{table: t, kind: RefRow, node: t.s.Root}
	var dec decoder
	if err := ref.decode(&dec, key, wire, m); err != nil {
		return false, err
	}
	if err := checkMessageType(m.Interface(), c.rowType); err != nil {
		return false, err
	}
	c.row = m
	return false, nil
}

func (c *indexCall) read(r kv.Reader) (err error) {
	e := c.db.reader(c.ctx, r)
	defer e.release()
	defer e.closeAparts(&err) // the objects' fields stored apart
	if c.point {
		return e.indexPoint(c.ix, c.lo, c.base, c.emitFn)
	}
	return e.indexObjects(c.ix, c.lo, c.hi, c.base, c.opts, c.emitFn)
}

// count is emit, counting the objects it took: before emit, which hands
// the object to the caller's loop body, so that an object whose body
// panics is counted (see endRead); uncounted again when emit returns an
// error, having handed over nothing.
func (c *indexCall) count(key, wire []byte) (bool, error) {
	c.emitted++
	more, err := c.emit(key, wire)
	if err != nil {
		c.emitted--
	}
	return more, err
}

// indexBounds returns the bounds of the entries under prefix whose values
// are in kr.
func indexBounds(ix *schema.Index, prefix []byte, kr KeyRange, point bool) (lo, hi []byte, err error) {
	cols := ix.Columns
	if len(kr.Prefix) > len(cols) || (len(kr.Prefix) == len(cols) && (kr.Lower.IsValid() || kr.Upper.IsValid())) {
		return nil, nil, invalid("index %s has %d columns; a range fixes at most %d and bounds the next", ix.Path(), len(cols), len(cols))
	}
	p := prefix
	for i, v := range kr.Prefix {
		if err := cols[i].Column.Check(v); err != nil {
			return nil, nil, invalidKey(err, "index %s column %s", ix.Path(), cols[i].Column.Name())
		}
		p = cols[i].Column.Append(p, v)
	}
	switch {
	case point:
		return p, nil, nil
	case len(kr.Prefix) == len(cols):
		return p, tuple.PrefixEnd(p), nil
	}
	return rangeBounds(p, cols[len(kr.Prefix)].Column, kr)
}

// indexBatch is how many index entries a scan through an index takes
// before it reads the objects they name: it reads them in key order, one
// forward walk over the table (or the holding object), then hands them
// out in index order.
const indexBatch = 64

// indexLookup is one index entry of a batch and what it names: offsets in
// indexBatcher.buf of the entry's key, the target's key and, once read,
// the target's wire bytes.
type indexLookup struct {
	entry, target, wire [2]int
	err                 error
}

// indexBatcher holds a batch of lookups and their bytes.
type indexBatcher struct {
	buf   []byte
	look  []indexLookup
	order []int
}

func (b *indexBatcher) reset() {
	clear(b.look) // drop errors
	b.buf, b.look, b.order = b.buf[:0], b.look[:0], b.order[:0]
}

func (b *indexBatcher) add(p []byte) [2]int {
	start := len(b.buf)
	b.buf = append(b.buf, p...)
	return [2]int{start, len(b.buf)}
}

func (b *indexBatcher) at(r [2]int) []byte { return b.buf[r[0]:r[1]:r[1]] }

// indexScope returns the keys a walker over the objects that index ix
// names must cover: the holding object's (base) for a map's index, the
// table's (apart fields included) for a table index, built in
// e.scopeBuf.
func (e *exec) indexScope(ix *schema.Index, base []byte) []byte {
	if ix.Map != nil {
		return base
	}
	e.scopeBuf = ix.Table.AppendPrefix(append(e.scopeBuf[:0], base...))
	return e.scopeBuf
}

// indexPoint emits, whole, the object that the unique index entry at key
// names, if that entry exists: one point read, then the object's range.
// The iterator's Close error is its when it has none of its own.
func (e *exec) indexPoint(ix *schema.Index, key, base []byte, emit func(key, wire []byte) (bool, error)) (err error) {
	if err := e.db.IndexReadable(ix); err != nil {
		return err
	}
	val, err := e.r.Get(e.ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	target, err := e.indexTarget(e.targetBuf[:0], ix, base, key, val)
	if err != nil {
		return err
	}
	e.targetBuf = target // emit keeps no bytes of it (as indexObjects' batch)
	w, err := e.under(e.indexScope(ix, base))
	if err != nil {
		return err
	}
	defer w.closeInto(&err)
	found, err := e.readWhole(w, target, ix.Node, wholeObject)
	if err != nil {
		return err
	}
	if !found {
		return corrupt(key, "index %s entry names %x, which does not exist: the index is out of step", ix.Path(), target)
	}
	_, err = emit(target, e.asm.finish())
	return err
}

// indexObjects walks the index entries in [lo, hi) and emits, whole, the
// object each names; an entry naming nothing is corruption (the index is
// out of step with what it indexes). It reads the objects of up to
// indexBatch entries at a time in key order (see indexBatch). The
// iterators' Close errors are its when it has none of its own, also
// after emit stopped it (as scanWhole's).
func (e *exec) indexObjects(ix *schema.Index, lo, hi, base []byte, opts ScanOptions, emit func(key, wire []byte) (bool, error)) (err error) {
	if err := e.db.IndexReadable(ix); err != nil {
		return err
	}
	var s indexSteps
	if err := s.open(e, lo, hi, opts.Reverse); err != nil {
		return err
	}
	defer s.closeInto(&err)
	w, err := e.under(e.indexScope(ix, base))
	if err != nil {
		return err
	}
	defer w.closeInto(&err)
	b := &e.idx
	var target []byte
	count := 0
	more := s.first()
	for more {
		// Take a batch of entries, in index order.
		b.reset()
		n := indexBatch
		if opts.Limit > 0 {
			n = min(n, opts.Limit-count)
		}
		for ; more && len(b.look) < n; more = s.next() {
			if target, err = e.indexTarget(target[:0], ix, base, s.key, s.val); err != nil {
				return err
			}
			b.order = append(b.order, len(b.look))
			b.look = append(b.look, indexLookup{entry: b.add(s.key), target: b.add(target)})
		}
		if e.err != nil {
			return e.err
		}
		// Read what they name in key order, each object once.
		slices.SortFunc(b.order, func(i, j int) int {
			return bytes.Compare(b.at(b.look[i].target), b.at(b.look[j].target))
		})
		for k, i := range b.order {
			l := &b.look[i]
			if k > 0 {
				if p := &b.look[b.order[k-1]]; bytes.Equal(b.at(p.target), b.at(l.target)) {
					l.wire, l.err = p.wire, p.err // one object, met through several values
					continue
				}
			}
			t := b.at(l.target)
			found, err := e.readWhole(w, t, ix.Node, wholeObject)
			if err != nil {
				return err
			}
			if !found {
				l.err = corrupt(b.at(l.entry), "index %s entry names %x, which does not exist: the index is out of step", ix.Path(), t)
				continue
			}
			l.wire = b.add(e.asm.finish())
		}
		// Hand them out in index order.
		for i := range b.look {
			l := &b.look[i]
			if l.err != nil {
				return l.err
			}
			count++
			if more, err := emit(b.at(l.target), b.at(l.wire)); !more || err != nil {
				return err
			}
		}
		if opts.Limit > 0 && count >= opts.Limit {
			return nil
		}
	}
	return e.err
}

func notFoundIndex(ix *schema.Index, vals []protoreflect.Value) error {
	return &notFoundError{path: ix.Path() + formatVals(vals)}
}

func formatVals(vals []protoreflect.Value) string {
	b := []byte{'['}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, clipText(v.String())...)
	}
	return string(append(b, ']'))
}

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
