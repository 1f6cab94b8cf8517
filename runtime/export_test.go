package runtime

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// InlineEncodings returns what the encoder writes as the value of m, stored
// with layout n: by n's inline plan (planned is nil and hasPlan false when n
// has none) and by the shell copy the plan replaces.
func InlineEncodings(n *schema.Node, m protoreflect.Message) (planned, shelled []byte, hasPlan bool, planErr, shellErr error) {
	var e encoder
	var plans sync.Map
	if err := checkUnknown(n, m.GetUnknown()); err != nil {
		return nil, nil, planOf(&plans, n) != nil, err, err
	}
	if p := planOf(&plans, n); p != nil && m.Descriptor() == n.Desc {
		hasPlan = true
		var pv reflect.Value // the struct reads, as object makes them
		if goRead.Load() {
			pv = goMessage(m, nil)
		}
		planned, planErr = e.planned(nil, p, m, pv, m.GetUnknown())
	}
	shelled, shellErr = e.shellValue(nil, n, m)
	return planned, shelled, hasPlan, planErr, shellErr
}

// DecodeForTest decodes wire into the empty message m with the decode path
// of Get and Query (decode.go), for comparing it with proto.Unmarshal.
func DecodeForTest(db *DB, wire []byte, m proto.Message) error {
	var d decoder
	return d.unmarshal(db.unmarshalOptions(), wire, m.ProtoReflect(), 0)
}

// IndexCursorForTest signs pos (an index entry key without the DB's
// namespace, or any bytes) as an index scan cursor, the way the index
// handles' Cursor methods do, for fuzzing what a scan accepts past the
// integrity check.
func IndexCursorForTest(db *DB, pos []byte) string {
	return db.indexCursor(append(bytes.Clone(db.ns), pos...))
}

// SetGenericRowScanForTest makes row scans take the generic path (on) or
// their fast paths (off, the default), for comparing the two.
func SetGenericRowScanForTest(on bool) { genericRowScan.Store(on) }

// SetUnplannedRowScanForTest makes row scans decode rows without their
// row plan (on) or with it where they have one (off, the default).
func SetUnplannedRowScanForTest(on bool) { unplannedRowScan.Store(on) }

// SetSteppedRowScanForTest makes forward row scans of inline fields take
// the stepper and readOwn (on) or their own loop, scanOwn (off, the
// default), for comparing the two.
func SetSteppedRowScanForTest(on bool) { steppedRowScan.Store(on) }

// SetPlainPointReadsForTest makes point reads take the general path (on)
// or their own (off), for benchmarks comparing the two.
func SetPlainPointReadsForTest(on bool) { plainPointReads.Store(on) }

// SetDirectEntriesForTest makes a query's rows keep the map entries it can
// aside from the assembler (on, the default) or feed every entry to it
// (off), for tests and benchmarks comparing the two (direct.go).
func SetDirectEntriesForTest(on bool) { noDirectEntries.Store(!on) }

// SetScalarEntriesForTest makes the projected map entries kept aside
// decode with their value type's scalar plan where it can (on, the
// default) or with proto.Unmarshal (off), for tests and benchmarks
// comparing the two (scalarplan.go).
func SetScalarEntriesForTest(on bool) { noScalarEntries.Store(!on) }

// PatchScalar is patchScalar: the encoded value val of a message of md
// with field fd set to v, made without decoding it, if it vouches for it.
func PatchScalar(val []byte, md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, bool) {
	return patchScalar(nil, val, md, nil, fd, v)
}

// PatchInline is patchScalar with node's layout (newInline's call), and
// CheckValue is checkValue: where the first vouches for a value, the
// second must accept it.
func PatchInline(val []byte, node *schema.Node, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, bool) {
	return patchScalar(nil, val, node.Desc, node, fd, v)
}

// CheckValue is checkValue on a value of node.
func CheckValue(val []byte, node *schema.Node) error { return checkValue(nil, val, node) }

// SlowFieldKey is the key Ref.Field(num) built before keys shared a
// keyBuf: a copy of r's key (or its apart key) with the field's element.
func SlowFieldKey(r Ref, num protoreflect.FieldNumber) []byte {
	f := r.node.Field(num)
	base := r.key[:len(r.key):len(r.key)]
	if f.Apart {
		base = r.table.apartKey(f, r.key)
	}
	return f.AppendElem(base)
}

// SlowEntryKey is the key Ref.Entry(key) built before keys shared a
// keyBuf.
func SlowEntryKey(r Ref, key protoreflect.Value) []byte {
	return r.field.Key.Append(r.key[:r.parentLen:r.parentLen], key)
}

// SlowRowKey is the key Table.Row built before keys shared a keyBuf.
func SlowRowKey(t *Table, key ...protoreflect.Value) []byte {
	k := bytes.Clone(t.prefix)
	for i, col := range t.s.Key {
		k = col.Append(k, key[i])
	}
	return k
}

// RowPlanDecodeForTest decodes a row of t, with key key and value wire
// (filtered by the projection of fields), with the row plan of that
// projection: the row and whether the plan decoded it. It fails when the
// projection has no row plan.
func RowPlanDecodeForTest(t *Table, fields []string, key, wire []byte) (proto.Message, bool, error) {
	_, rp, err := t.projection(fields)
	if err != nil {
		return nil, false, err
	}
	if rp == nil {
		return nil, false, errNoRowPlan
	}
	m, ok := rp.decode(key, wire)
	return m, ok, nil
}

// SetRowStringsMaxForTest sets how many string fields of a row (1 to
// maxRowStrings; 0: the default) the row plan gathers into one
// allocation, the rest made one by one.
func SetRowStringsMaxForTest(n int) { rowStringsMax.Store(int32(n)) }

var errNoRowPlan = invalid("the projection has no row plan")

// RowPlanOfTypeForTest reports whether a row plan of t for the projection
// of fields is built when t's rows are messages of type mt.
func RowPlanOfTypeForTest(t *Table, mt protoreflect.MessageType, fields []string) (bool, error) {
	p, _, err := t.projection(fields)
	if err != nil {
		return false, err
	}
	return newRowPlan(t, mt, p) != nil, nil
}

// EntryPlanOfTypeForTest reports whether an entry plan is built for map
// values of Go type pt.
func EntryPlanOfTypeForTest(pt reflect.Type) bool { return newEntryPlan(pt) != nil }

// RowPlanOwnForTest decodes a row of t, with key key and own value value
// (unfiltered), for the projection of fields in the two ways the row scan
// can: the plan's one pass (decodeOwn), and filterChecked followed by the
// plan's decode of what it kept. own and planned are the rows of each
// (nil where it declined), filterErr the filter's error. own is decoded
// as a scan without ScanOptions.Reuse decodes its rows, into the next
// message of rows' slab, with strings cut from its blocks (a nil rows:
// a new message with strings of its own). reused is the one pass's row
// as a scan with ScanOptions.Reuse decodes it: into a message that held
// dirty (another row, or nil), with strings cut from a block that already
// holds some.
func RowPlanOwnForTest(t *Table, fields []string, key, value []byte, dirty proto.Message, rows *RowsForTest) (own, reused, planned proto.Message, filterErr, err error) {
	p, rp, err := t.projection(fields)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if rp == nil {
		return nil, nil, nil, nil, errNoRowPlan
	}
	own, _ = rp.decodeOwn(key, value, rows.alloc())
	ru := &rowAlloc{reuse: true}
	if m := ru.planned(rp).Interface().(proto.Message); dirty != nil {
		proto.Merge(m, dirty)
	}
	ru.rs.arena.b = append(make([]byte, 0, arenaBlock), "bytes of the rows before"...)
	ru.rs.arena.next = arenaBlock
	reused, _ = rp.decodeOwn(key, value, ru)
	var e exec
	kept, filterErr := e.filterChecked(key, value, t.s.Root, p)
	if filterErr == nil {
		planned, _ = rp.decode(key, kept)
	}
	return own, reused, planned, filterErr, nil
}

// RowKeyColsForTest decodes a row (key, a row key followed by nothing or
// by a key below the row, and value, the row's own value) with the row
// plan of the projection fields twice, into new messages: with what
// Table.rowKeyCols found of key, as scanOwn's rows are decoded, and
// without, as the rows of scanWhole's other loops are (nil where the plan
// declined). n is the row key's length rowKeyCols measured, plain which
// of its columns it found plain.
func RowKeyColsForTest(t *Table, fields []string, key, value []byte) (with, without proto.Message, n int, plain []bool, err error) {
	_, rp, err := t.projection(fields)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	if rp == nil {
		return nil, nil, 0, nil, errNoRowPlan
	}
	var kc keyCols
	if n, err = t.rowKeyCols(key, &kc, false); err != nil {
		return nil, nil, 0, nil, err
	}
	for i := range kc.n {
		plain = append(plain, kc.plain&(1<<i) != 0)
	}
	var ra *rowAlloc // a new message and strings of its own per row
	if p, ok := rp.decodeOwnAt(key[:n], value, ra, &kc); ok {
		with = ra.message(rp, p)
	}
	if p, ok := rp.decodeOwnAt(key[:n], value, ra, nil); ok {
		without = ra.message(rp, p)
	}
	return with, without, n, plain, nil
}

// RowsForTest is where the rows of a scan without ScanOptions.Reuse come
// from (a rowAlloc), for RowPlanOwnForTest: one for many rows, as a scan's.
type RowsForTest struct{ ra rowAlloc }

func (r *RowsForTest) alloc() *rowAlloc {
	if r == nil {
		return nil
	}
	return &r.ra
}

// KeyPrefixForTest returns the prefix of t's row keys.
func KeyPrefixForTest(t *Table) []byte { return t.prefix }

// decode (the tests' reference for decodeOwn, which filters in the same
// pass) returns a new row message holding the fields of wire (the row's
// value filtered by the projection) and the key columns of key, or false
// when the row needs the generic decode (see above).
func (rp *rowPlan) decode(key, wire []byte) (proto.Message, bool) {
	ptr := reflect.New(rp.typ)
	base := ptr.UnsafePointer()
	var rs rowStrings
	for b := wire; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		i := rp.find(num)
		if i < 0 {
			return nil, false
		}
		f := &rp.fields[i]
		if n = f.set(base, typ, b, &rs); n < 0 {
			return nil, false
		}
		b = b[n:]
	}
	if !rp.setKeys(base, key, nil, &rs, nil) {
		return nil, false
	}
	return ptr.Interface().(proto.Message), true
}

// CursorSecretKeyForTest is the metadata key of db's cursor secret, and
// CursorSecretLen the length Open creates and accepts.
func CursorSecretKeyForTest(db *DB) []byte { return db.metaKey(cursorKeyName) }

const CursorSecretLen = cursorKeyLen

// EncodePutForTest records the pairs Put writes for m at ref in a pooled
// batch and discards them: the encoding half of a Put, without a store.
func EncodePutForTest(ref Ref, m proto.Message) error {
	b := batchPool.Get().(*writeBatch)
	defer b.release()
	return put(b, ref, m, false)
}

// PresentForTest is the encoder's presence test of field fd of m.
func PresentForTest(m protoreflect.Message, fd protoreflect.FieldDescriptor) (protoreflect.Value, bool) {
	return present(m, fd)
}

// SetGoReadForTest turns the encoder's reads of generated structs
// (goPlan) on or off, for comparing its output with and without them.
func SetGoReadForTest(on bool) { goRead.Store(on) }

// GoInlineReadsForTest returns how many fields of n's inline plan the
// encoder reads from m's Go struct (goInline) and how many singular
// scalars without presence the plan has, the fields it may read that way.
func GoInlineReadsForTest(n *schema.Node, m protoreflect.Message) (read, implicit int) {
	var plans sync.Map
	p := planOf(&plans, n)
	if p == nil {
		return 0, 0
	}
	for _, k := range p.kinds {
		if k == inlineImplicit {
			implicit++
		}
	}
	if _, g := p.structOf(reflect.ValueOf(m.Interface())); g != nil {
		for _, f := range g.fields {
			if f.kind != 0 {
				read++
			}
		}
	}
	return read, implicit
}

// GoScalarFieldForTest reports whether the encoder would read fd, a
// singular scalar without presence, from the field of struct type st that
// its protobuf tag names (goScalarField).
func GoScalarFieldForTest(st reflect.Type, fd protoreflect.FieldDescriptor) bool {
	_, ok := goScalarField(st, fd)
	return ok
}

// PutOpsForTest returns copies of the operations Put records for m at
// ref.
func PutOpsForTest(ref Ref, m proto.Message) ([]kv.Op, error) {
	b := batchPool.Get().(*writeBatch)
	defer b.release()
	if err := put(b, ref, m, false); err != nil {
		return nil, err
	}
	ops := make([]kv.Op, len(b.Ops()))
	for i, op := range b.Ops() {
		ops[i] = kv.Op{Kind: op.Kind, Key: bytes.Clone(op.Key), Value: bytes.Clone(op.Value)}
	}
	return ops, nil
}

// EntryPlanForTest decodes value, the stored value of a row of t (here
// standing for a map entry's value of t's row type), filtered by the
// projection of fields, in the two ways directEntry can: the entry plan's
// one pass (decodeFields with the plan of every field it decodes, as for a
// map value type) and the path it replaces, filterChecked, checkValue and
// proto.Unmarshal of the filtered value. planned is nil where the plan
// declined; size is the size of the kept fields it reports, kept the
// filtered value (whose length it must be); slowErr the old path's error.
func EntryPlanForTest(t *Table, fields []string, value []byte) (planned, slow proto.Message, size int, kept []byte, slowErr, err error) {
	p, _, err := t.projection(fields)
	if err != nil {
		return nil, nil, 0, nil, nil, err
	}
	pt := reflect.TypeOf(t.rowType().mt.Zero().Interface())
	fp := newEntryPlan(pt)
	if fp == nil {
		return nil, nil, 0, nil, nil, errNoRowPlan
	}
	ptr := reflect.New(pt.Elem())
	var rs rowStrings
	var u fieldUses
	fp.usesOf(&u, p, t.s.Root)
	if n, ok := fp.decodeFields(ptr.UnsafePointer(), value, &u, &rs); ok {
		rs.store(ptr.UnsafePointer(), nil)
		planned, size = ptr.Interface().(proto.Message), n
	}
	var e exec
	kept, slowErr = e.filterChecked(nil, value, nil, p)
	if slowErr == nil {
		slowErr = checkValue(nil, kept, t.s.Root)
	}
	if slowErr == nil {
		slow = t.rowType().mt.New().Interface()
		slowErr = proto.Unmarshal(kept, slow)
	}
	return planned, slow, size, bytes.Clone(kept), slowErr, nil
}

// WholeEntryPlanForTest decodes value, a stored value of t's row type
// standing for the value of a map entry of that type read whole, in the
// two ways keepWhole can: the entry plan's one pass (decodeFields with
// every field kept, wholeEntry) and the path it replaces, checkValue and
// proto.Unmarshal of the value. planned is nil where the plan declined;
// slowErr is the old path's error.
func WholeEntryPlanForTest(t *Table, value []byte) (planned, slow proto.Message, slowErr, err error) {
	pt := reflect.TypeOf(t.rowType().mt.Zero().Interface())
	fp := newEntryPlan(pt)
	if fp == nil {
		return nil, nil, nil, errNoRowPlan
	}
	ptr := reflect.New(pt.Elem())
	var rs rowStrings
	var u fieldUses
	fp.usesOf(&u, wholeEntry, t.s.Root)
	if _, ok := fp.decodeFields(ptr.UnsafePointer(), value, &u, &rs); ok {
		rs.store(ptr.UnsafePointer(), nil)
		planned = ptr.Interface().(proto.Message)
	}
	if slowErr = checkValue(nil, value, t.s.Root); slowErr == nil {
		slow = t.rowType().mt.New().Interface()
		slowErr = proto.Unmarshal(value, slow)
	}
	return planned, slow, slowErr, nil
}

// CheckKeyUTF8 and CheckUTF8 are checkKeyUTF8 and checkUTF8, for their
// differential test.
var (
	CheckKeyUTF8 = checkKeyUTF8
	CheckUTF8    = checkUTF8
)

// ScanRowsOfForTest scans every row of t on q (a *DB or *Tx) as the typed
// layer does (scanRowsTo), naming typ as the caller's Go struct type, and
// returns the rows as Ms and how many were made from their address (by
// rowAt). typ must be rowStruct[M]() or a type whose rows never come by
// address (another table's): rowAt makes an M of a row only of M's struct
// type.
func ScanRowsOfForTest[M proto.Message](ctx context.Context, q Querier, t *Table, opts ScanOptions, typ reflect.Type) (rows []M, byAddr int, err error) {
	var n rowCounts
	collect := func(v M, _ error) bool { // scanRowsTo returns its error, yields none
		if opts.Reuse {
			v = proto.Clone(v).(M)
		}
		rows = append(rows, v)
		return true
	}
	var stopped bool
	switch q := q.(type) {
	case *DB:
		err = q.store.View(ctx, func(rd kv.Reader) error {
			stopped, err = scanRowsTo(ctx, rd, t, KeyRange{}, opts, typ, &n, collect)
			return err
		})
	case *Tx:
		stopped, err = scanRowsTo(ctx, q.r, t, KeyRange{}, opts, typ, &n, collect)
	default:
		return nil, 0, fmt.Errorf("ScanRowsOfForTest: a %T is neither a *DB nor a *Tx", q)
	}
	if err != nil || stopped {
		return nil, 0, err
	}
	if n.rows != len(rows) {
		return nil, 0, fmt.Errorf("ScanRowsOfForTest: counted %d rows, handed %d", n.rows, len(rows))
	}
	return rows, n.byAddr, nil
}

// RowStructForTest is rowStruct[M]().
func RowStructForTest[M any]() reflect.Type { return rowStruct[M]() }

// DecodeRowsForTest decodes the rows (key, own value pairs of t's rows)
// with the row plan of the projection fields, as a row scan does, into
// one rowAlloc (with reuse, one message), and returns how many it
// decoded: the plan's per-row work without the store, for benchmarks.
func DecodeRowsForTest(t *Table, fields []string, rows [][2][]byte, reuse bool) (int, error) {
	_, rp, err := t.projection(fields)
	if err != nil {
		return 0, err
	}
	if rp == nil {
		return 0, errNoRowPlan
	}
	ra := &rowAlloc{reuse: reuse}
	n := 0
	var kc keyCols
	for _, kv := range rows {
		if _, err := t.rowKeyCols(kv[0], &kc, false); err != nil {
			return n, err
		}
		if _, ok := rp.decodeOwnAt(kv[0], kv[1], ra, &kc); ok {
			n++
		}
	}
	return n, nil
}

// ValueRoomForTest is r.valueRoom: the room after r's key that a setter's
// value is encoded in, claimed, or nil.
func ValueRoomForTest(r *Ref) []byte { return r.valueRoom() }

// RowStringForTest is the Ref the typed layer's Row builds for the string
// key s of t (Table.rowStringTo) and its key error.
func RowStringForTest(t *Table, s string) (Ref, error) {
	var r Ref
	t.rowStringTo(&r, s)
	return r, r.keyErr
}

// RowForTest is t.Row of the string key s and its key error.
func RowForTest(t *Table, s string) (Ref, error) {
	r, err := t.Row(protoreflect.ValueOfString(s))
	if err != nil {
		return Ref{}, err
	}
	return r, r.keyErr
}

// DecodeDynamicForTest makes db decode the rows of message md as dynamic
// messages (dynamicpb), as it does when no generated type of md is linked:
// a typed handle's reads of them then meet rows of another Go type than
// their own.
func DecodeDynamicForTest(db *DB, md protoreflect.MessageDescriptor) {
	db.types.Store(md.FullName(), dynamicpb.NewMessageType(md))
}
