package runtime

import (
	"context"
	"iter"
	"reflect"
	"unsafe"

	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TypedTable is the typed view of a table whose rows are of Go type M and
// whose primary key is of Go type K: the Go type of the key column for a
// single-column key, a struct of the columns for a composite one (with a
// function listing its column values in key order), struct{} for a
// singleton table. Generated code embeds one per table. Its methods run on
// the DB it was made from, or on the Querier given to In; it is safe for
// concurrent use when that Querier is (a *DB is; a *Tx belongs to one
// transaction).
type TypedTable[K any, M proto.Message] struct {
	t   *Table
	q   Querier
	key func(K) []protoreflect.Value
	// keyTyped caches keyFits[K] of the one key column, which Row would
	// otherwise work out on every call.
	keyTyped bool
	// keyString says K is string and the one key column a string column:
	// Row then builds the row's Ref from the string (Table.rowStringTo).
	keyString bool
}

// NewTypedTable returns the typed view of the table name in db. key lists
// a key's column values in key order; nil means K is the Go type of the one
// key column (or struct{} for a singleton table). It fails when db has no
// such table, or when db was not opened with the linked descriptor of M
// (WithSchema on the generated package's File_ descriptor), since results
// must be of the linked Go type. It does no I/O.
func NewTypedTable[K any, M proto.Message](db *DB, name string, key func(K) []protoreflect.Value) (TypedTable[K, M], error) {
	t, err := db.Table(name)
	if err != nil {
		return TypedTable[K, M]{}, err
	}
	zero, err := linkedZero[M]()
	if err != nil {
		return TypedTable[K, M]{}, err
	}
	if t.s.Desc != zero.ProtoReflect().Descriptor() {
		return TypedTable[K, M]{}, invalid("table %s of this DB is not described by the linked %T; open the DB with WithSchema and the File_ descriptor of %T's package", name, zero, zero)
	}
	if key == nil && len(t.s.Key) > 1 {
		return TypedTable[K, M]{}, invalid("table %s has %d key columns; a TypedTable of it needs a key function", name, len(t.s.Key))
	}
	x := TypedTable[K, M]{t: t, q: db, key: key}
	if key == nil && len(t.s.Key) == 1 {
		x.keyTyped = keyFits[K](t.s.Key[0])
		_, isString := any(new(K)).(*string)
		x.keyString = x.keyTyped && isString && t.s.Key[0].Kind.Ascending() == tuple.KindString
	}
	return x, nil
}

// In returns the table bound to q: pass the *Tx of DB.Update or DB.View to
// run every call, and every handle made from the result, inside that
// transaction (valid only while it runs), or a *DB to run outside one. It
// does no I/O. Bound to a DB or transaction over another store than the
// table's DB, every call fails with ErrInvalid (the table's keys are its
// DB's). DBs over one store (namespaces) may share a transaction: bound to
// another namespace's DB or transaction, the table's calls, its queries
// included, run on its own namespace (in that transaction).
func (x TypedTable[K, M]) In(q Querier) TypedTable[K, M] {
	x.q = bound(x.t, q)
	return x
}

// Table returns the untyped table, for calls the typed API does not cover.
func (x TypedTable[K, M]) Table() *Table { return x.t }

// Querier returns what the table's calls run on.
func (x TypedTable[K, M]) Querier() Querier { return x.q }

// Row addresses the row with key k. It does no I/O.
func (x TypedTable[K, M]) Row(k K) (o Object[M]) {
	x.rowTo(&o.Handle, k)
	return o
}

func (x TypedTable[K, M]) row(k K) (h Handle) {
	x.rowTo(&h, k)
	return h
}

// rowTo builds the Handle of row k in *h, which must be zero: in place,
// as Handle.Field does, since Row is called on every typed call.
func (x *TypedTable[K, M]) rowTo(h *Handle, k K) {
	if x.t == nil {
		h.err = invalid("a zero TypedTable addresses no table")
		return
	}
	h.q = x.q
	switch {
	case x.key != nil:
		h.err = x.t.rowTo(&h.ref, false, x.key(k)...)
	case len(x.t.s.Key) == 0:
		h.err = x.t.rowTo(&h.ref, false)
	case x.keyString:
		x.t.rowStringTo(&h.ref, *any(&k).(*string))
	default:
		v, err := valueOf(k)
		if err != nil {
			h.err = invalid("%s key: %v", x.t.s.Desc.Name(), err)
			return
		}
		h.err = x.t.rowTo(&h.ref, x.keyTyped, v)
	}
}

// Get reads the row's key range (its own key and every key below it) in
// one range scan and returns the M reassembled from it. It returns an error
// wrapping ErrNotFound when no key of that range exists.
func (x TypedTable[K, M]) Get(ctx context.Context, k K) (M, error) {
	return getObject[M](ctx, x.row(k))
}

// Put replaces the row whose key fields v holds, like Object.Put.
func (x TypedTable[K, M]) Put(ctx context.Context, v M) error {
	if isNil(v) {
		return invalid("Put of a nil %T", v)
	}
	if x.t == nil {
		return invalid("a zero TypedTable addresses no table")
	}
	ref, err := x.t.RowOf(v)
	if err != nil {
		return err
	}
	// ref is v's own: the runtime's Queriers skip building it again to
	// check that v's key fields address it.
	switch q := x.q.(type) {
	case *DB:
		return q.put(ctx, ref, v, true)
	case *Tx:
		return q.put(ctx, ref, v, true)
	}
	return x.q.Put(ctx, ref, v)
}

// Delete deletes the row's whole key range: one range delete.
func (x TypedTable[K, M]) Delete(ctx context.Context, k K) error {
	return deleteAt(ctx, x.row(k))
}

// UpdateInline runs fn on the inline fields of the row k, like
// Object.UpdateInline.
func (x TypedTable[K, M]) UpdateInline(ctx context.Context, k K, fn func(M) error) error {
	return x.Row(k).UpdateInline(ctx, fn)
}

// Scan reads the rows in r (nil: every row) with one range scan over the
// part of the table's key range that r selects, streaming each row as soon
// as its keys end. Rows come in stored key order (a descending column
// largest first); opts limits, reverses or resumes the scan
// (ScanOptions.After takes a Cursor). The first error ends the sequence.
func (x TypedTable[K, M]) Scan(ctx context.Context, r Keys[K], opts ScanOptions) iter.Seq2[M, error] {
	return func(yield func(M, error) bool) {
		var zero M
		kr, err := x.keyRange(r)
		if err != nil {
			yield(zero, err)
			return
		}
		// A DB's or a Tx's scan hands the rows to yield itself, those
		// its row plan decodes into messages of M's struct type by
		// address.
		if seq, ok := scanRowsAs[M](ctx, x.q, x.t, kr, opts, rowStruct[M]()); ok {
			seq(yield)
			return
		}
		for m, err := range x.q.Scan(ctx, x.t, kr, opts) {
			var v M
			if err == nil {
				v, err = messageAs[M](m)
			}
			if err != nil {
				yield(zero, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// rowStruct returns T when M is *T for a struct type T (a generated
// message), else nil: the Go type scanRowsTo makes Ms of from the rows'
// addresses (rowAt).
func rowStruct[M any]() reflect.Type {
	t := reflect.TypeFor[M]()
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	return t.Elem()
}

// rowAt returns the message at addr as an M, without the interface value
// and type assertion of messageAs. addr must be the address of a T where
// M is *T: scanRowsTo makes an M of a row's address only when its Go type
// is rowStruct[M](), which makes it so. An M is then a pointer, with the
// memory layout of an unsafe.Pointer, so reading addr's variable as an M
// is a conversion of *unsafe.Pointer to *M (the unsafe.Pointer rules'
// first pattern). The one place the typed layer makes a row from an
// address (TestScanRowsByAddress: only rows of M's own struct type come
// by address, and they equal DB.Scan's).
func rowAt[M any](addr unsafe.Pointer) M {
	return *(*M)(unsafe.Pointer(&addr))
}

// DeleteRows deletes the rows in r (nil: every row), blind: one range
// delete per call.
func (x TypedTable[K, M]) DeleteRows(ctx context.Context, r Keys[K]) error {
	kr, err := x.keyRange(r)
	if err != nil {
		return err
	}
	return x.q.DeleteRows(ctx, x.t, kr)
}

func (x TypedTable[K, M]) keyRange(r Keys[K]) (KeyRange, error) {
	if x.t == nil {
		return KeyRange{}, invalid("a zero TypedTable addresses no table")
	}
	if r == nil {
		return KeyRange{}, nil
	}
	rg := r.rangeOf()
	return rg.kr, rg.err
}

// Cursor returns the cursor of v's row, to pass as ScanOptions.After to
// resume a scan right after v (see DB.ScanCursor). It does no I/O.
func (x TypedTable[K, M]) Cursor(v M) (string, error) {
	if isNil(v) {
		return "", invalid("Cursor of a nil %T", v)
	}
	if x.t == nil {
		return "", invalid("a zero TypedTable addresses no table")
	}
	ref, err := x.t.RowOf(v)
	if err != nil {
		return "", err
	}
	return x.t.db.ScanCursor(ref)
}

// Keys is a set of primary keys of type K for TypedTable.Scan: a Range[K],
// or a generated range type embedding one.
type Keys[K any] interface {
	rangeOf() Range[K]
}

// Range is a range of primary keys of type K: leading key columns fixed
// to values, then optionally the next column bounded. The zero Range is
// every key. Fix, AtLeast, Below and Between narrow it; generated code
// wraps them in methods typed per column.
type Range[K any] struct {
	kr  KeyRange
	err error
}

func (r Range[K]) rangeOf() Range[K] { return r }

// Fix narrows r to the keys whose next column is v.
func Fix[K, C any](r Range[K], v C) Range[K] {
	pv, err := valueOf(v)
	r.kr.Prefix = append(r.kr.Prefix[:len(r.kr.Prefix):len(r.kr.Prefix)], pv)
	return r.with(err)
}

// AtLeast narrows r to the keys whose next column is at least lo.
func AtLeast[K, C any](r Range[K], lo C) Range[K] {
	var err error
	r.kr.Lower, err = valueOf(lo)
	return r.with(err)
}

// Below narrows r to the keys whose next column is below hi.
func Below[K, C any](r Range[K], hi C) Range[K] {
	var err error
	r.kr.Upper, err = valueOf(hi)
	return r.with(err)
}

// Between narrows r to the keys whose next column is in [lo, hi).
func Between[K, C any](r Range[K], lo, hi C) Range[K] {
	return Below(AtLeast(r, lo), hi)
}

func (r Range[K]) with(err error) Range[K] {
	if r.err == nil && err != nil {
		r.err = invalid("key range: %v", err)
	}
	return r
}
