package runtime

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoimpl"
	"google.golang.org/protobuf/types/dynamicpb"
)

// A row scan whose projection keeps only scalar fields (ScanOptions.Fields
// naming strings, numbers, bools, open enums) decodes each row straight
// into a new value of the row's generated Go struct: the kept fields of the
// row's filtered value with protowire, the key columns from the key, each
// stored into its struct field (the value's fields at the field's offset,
// the key's other than strings through reflect). That replaces building
// the message through protoreflect (New, then Interface), appending the
// key columns to a copy of the value and one proto.Unmarshal of the copy,
// the bulk of a projected row's CPU after the iterator's.
//
// The plan vouches only for what it decodes exactly as proto.Unmarshal of
// the same bytes does: proto3-style fields without presence (a plain Go
// field: what Unmarshal's own "no zero" coders set), outside oneofs, of a
// message without required fields, in exported struct fields (the opaque
// Go API's are unexported: no plan). A row whose bytes hold anything else —
// another field, a wire type other than the field's, a malformed varint or
// length, a string that is not valid UTF-8, a key element that does not fit
// its column — is decoded by the path the plan replaces, which then sets
// the fields or reports the corruption exactly as before.

// rowPlan decodes rows of one table, for one projection, into its Go type.
type rowPlan struct {
	typ reflect.Type // the generated struct (the message is *typ)
	// fieldPlan holds the kept fields, by field number; map entries use
	// it too (scalarplan.go).
	fieldPlan
	uses   fieldUses      // the fields' uses for proj: every one useSet
	keys   []planKey      // the key columns, in key order
	prefix int            // the table's key prefix length
	proj   *query.Proj    // the projection (decodeOwn filters by it)
	slabs  []reflect.Type // the slabs of rows (rowAlloc): slabTypes(typ)
}

// planField is a kept scalar field: its number, kind, and struct field.
// It is stored inline, in the row's value: a projection keeps (Proj.Keeps)
// inline fields only — query's checker sends key columns to the key and
// breakout fields to Proj.Children, and a plan is made only for a
// projection without children or joins (inlineOnly) — so filterChecked's
// refusal of a kept field stored otherwise never applies to a planned
// one. (TestRowPlanOwnMatchesFilter's values hold the key columns too.)
type planField struct {
	num  protowire.Number
	kind protoreflect.Kind
	off  uintptr // the struct field's offset (set stores the value there)
}

// newPlanField is the plan of field fd, the field idx of the struct typ
// (the one place a planField is made, so that its offset is never left
// out: set stores every value through it).
func newPlanField(fd protoreflect.FieldDescriptor, typ reflect.Type, idx int) planField {
	return planField{num: fd.Number(), kind: fd.Kind(), off: typ.Field(idx).Offset}
}

// planKey is a key column and its struct field.
type planKey struct {
	col   *schema.Column
	kind  protoreflect.Kind
	index int
	off   uintptr // as planField's
}

// newRowPlan returns the plan of row scans of t with projection p (which
// selects inline fields only), or nil when the rows are not of a generated
// Go type or p keeps, or the key holds, a field the plan does not decode.
func newRowPlan(t *Table, mt protoreflect.MessageType, p *query.Proj) *rowPlan {
	md := t.s.Desc
	if md.RequiredNumbers().Len() > 0 {
		return nil // Unmarshal checks them; rows without them are refused
	}
	m := mt.New().Interface()
	if _, ok := m.(*dynamicpb.Message); ok || m.ProtoReflect().Descriptor() != md {
		return nil
	}
	pt := reflect.TypeOf(m)
	if pt.Kind() != reflect.Pointer || pt.Elem().Kind() != reflect.Struct {
		return nil
	}
	if !ownStruct(mt, pt) {
		return nil
	}
	typ := pt.Elem()
	if n, ok := reflect.New(typ).Interface().(proto.Message); !ok || n.ProtoReflect().Descriptor() != md {
		return nil // its zero value is not a message of md
	}
	byNum := structFields(typ)
	rp := &rowPlan{typ: typ, prefix: len(t.prefix), proj: p}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if !p.Keeps(fd.Number()) {
			continue
		}
		idx, ok := byNum[fd.Number()]
		if !ok || !plannable(fd, typ.Field(idx)) {
			return nil
		}
		rp.fields = append(rp.fields, newPlanField(fd, typ, idx))
	}
	for _, col := range t.s.Key {
		fd := col.Field
		idx, ok := byNum[fd.Number()]
		if !ok || !plannable(fd, typ.Field(idx)) {
			return nil
		}
		rp.keys = append(rp.keys, planKey{col: col, kind: fd.Kind(), index: idx, off: typ.Field(idx).Offset})
	}
	rp.index()
	rp.usesOf(&rp.uses, p, nil)
	rp.slabs = slabTypes(typ)
	return rp
}

// structFields maps the field numbers of a generated struct's protobuf
// fields (their `protobuf:"kind,number,..."` tags) to their indexes.
func structFields(typ reflect.Type) map[protoreflect.FieldNumber]int {
	out := map[protoreflect.FieldNumber]int{}
	for i := range typ.NumField() {
		tag, ok := typ.Field(i).Tag.Lookup("protobuf")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		if len(parts) < 2 {
			continue
		}
		if n, err := strconv.ParseInt(parts[1], 10, 32); err == nil {
			out[protoreflect.FieldNumber(n)] = i
		}
	}
	return out
}

// ownStruct reports whether pt is the Go type of the messages of type mt
// as protobuf-go reads and writes them (mt is its MessageInfo, as for
// every message protoc-gen-go generates): only then is a store at a
// struct field's offset a store into the message. A hand-built type
// whose ProtoReflect hands out another message's reflection, its fields
// look-alikes of the message's, fails it (goMessage checks the same for
// Put).
func ownStruct(mt protoreflect.MessageType, pt reflect.Type) bool {
	info, ok := mt.(*protoimpl.MessageInfo)
	return ok && info.GoReflectType == pt
}

// plannable reports whether the plan can store field fd into the struct
// field sf: an exported one (the opaque Go API's fields are unexported and
// keep presence and lazy state of their own, which a store at the field's
// offset would bypass; the key columns are set through reflect, which
// refuses them: a panic), of a kind planKind admits.
func plannable(fd protoreflect.FieldDescriptor, sf reflect.StructField) bool {
	return sf.IsExported() && planKind(fd, sf.Type)
}

// planKind reports whether the plan decodes field fd, held in a struct
// field of Go type ft, as proto.Unmarshal does: a singular field without
// presence, outside a oneof, of a scalar kind, in the Go type protobuf-go
// generates for it (an open enum in a named int32).
func planKind(fd protoreflect.FieldDescriptor, ft reflect.Type) bool {
	if fd.IsList() || fd.IsMap() || fd.HasPresence() || fd.ContainingOneof() != nil || fd.IsExtension() {
		return false
	}
	var want reflect.Type
	switch fd.Kind() {
	case protoreflect.BoolKind:
		want = reflect.TypeFor[bool]()
	case protoreflect.EnumKind:
		return !fd.Enum().IsClosed() && ft.Kind() == reflect.Int32
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		want = reflect.TypeFor[int32]()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		want = reflect.TypeFor[int64]()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		want = reflect.TypeFor[uint32]()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		want = reflect.TypeFor[uint64]()
	case protoreflect.FloatKind:
		want = reflect.TypeFor[float32]()
	case protoreflect.DoubleKind:
		want = reflect.TypeFor[float64]()
	case protoreflect.StringKind:
		want = reflect.TypeFor[string]()
	case protoreflect.BytesKind:
		want = reflect.TypeFor[[]byte]()
	default:
		return false
	}
	return ft == want
}

// decodeOwn decodes the row's own value, unfiltered: the filter
// (exec.filterChecked) and the decode in one pass, without copying the
// kept fields aside. It decodes the row exactly when filterChecked
// accepts value and the plan decodes what filterChecked keeps, with the
// same result: every field of value must parse (ConsumeFieldValue, as the
// filter's), the kept ones are decoded in order by the plan's fields, and a kept
// field that the plan does not decode declines (every kept field is stored
// inline: see planField). A kept field the plan decodes has its kind's one wire
// type (planField.set), which is the filter's wireTypeOK for a singular
// field. When it declines, the caller filters value and goes on as before,
// so that corruption gets the filter's error.
//
// The row is decoded into a message of ra (see rowAlloc) and its strings
// are cut from ra's blocks; with ra nil (tests), into a new message with
// strings of its own.
func (rp *rowPlan) decodeOwn(key, value []byte, ra *rowAlloc) (proto.Message, bool) {
	p, ok := rp.decodeOwnAt(key, value, ra, nil)
	if !ok {
		return nil, false
	}
	return ra.message(rp, p), true
}

// decodeOwnAt is decodeOwn returning the row's address (a *rp.typ)
// instead of its message, for a caller that knows the row's Go type
// (the typed layer: rowAt) and needs no interface value. kc, when not
// nil, is what Table.rowKeyCols found of key (scanOwn's row key), which
// spares setKeys a second parse of its plain string columns.
func (rp *rowPlan) decodeOwnAt(key, value []byte, ra *rowAlloc, kc *keyCols) (unsafe.Pointer, bool) {
	if ra == nil {
		p := ra.row(rp)
		var rs rowStrings
		if _, ok := rp.decodeFields(p, value, &rp.uses, &rs); !ok || !rp.setKeys(p, key, kc, &rs, nil) {
			return nil, false
		}
		return p, true
	}
	// The decode into the zero row at p, which sets part of it when it
	// declines; the slab's next element (row) found in line, as it is
	// for all of a slab's rows but its first.
	var p unsafe.Pointer
	if !ra.reuse && ra.plan == rp && ra.next < ra.n {
		p = unsafe.Add(ra.slab, uintptr(ra.next)*ra.size)
	} else {
		p = ra.row(rp)
	}
	// ra's rowStrings, forgotten after each row: a new one per row is a
	// few hundred bytes to clear. Once its arena has a block, it cuts
	// each string from it as it comes (rowStrings.add).
	rs := &ra.rs
	_, ok := rp.decodeFields(p, value, &rp.uses, rs)
	ok = ok && rp.setKeys(p, key, kc, rs, &rs.arena)
	rs.forget()
	if !ok {
		ra.decline(rp, p)
		return nil, false
	}
	ra.taken()
	return p, true
}

// setKeys stores the key columns of key into the new row at base,
// then the row's strings rs (the fields' and the key's; cut from arena's
// blocks when it is not nil: rowStrings.store), or returns false
// when a key element does not fit its column (before storing the
// strings rs gathered; those it cut as they came are in the row, which
// the caller clears). kc, when not nil, is what Table.rowKeyCols found of key: a
// string column's element it found plain is cut from key at the end it
// recorded rather than looked for again (its UTF-8 is still checked).
func (rp *rowPlan) setKeys(base unsafe.Pointer, key []byte, kc *keyCols, rs *rowStrings, arena *stringArena) bool {
	if kc != nil && kc.n != len(rp.keys) {
		kc = nil
	}
	off := rp.prefix
	for i := range rp.keys {
		k := &rp.keys[i]
		var n int
		if k.kind == protoreflect.StringKind {
			// Column.Value, without its copy of the string (rs makes
			// the row's one), and for the usual element without an
			// Element (tuple.PlainBytes, or what rowKeyCols found).
			var s []byte
			if kc != nil && kc.plain&(1<<i) != 0 {
				// The tag byte, the payload, the terminator's 2 bytes.
				end := kc.end[i]
				s, n = key[off+1:end-2:end-2], end-off
			} else {
				s, n = keyString(k.col, key[off:])
			}
			if n < 0 || k.col.UTF8 && !validUTF8(s) {
				return false
			}
			rs.add(base, k.off, s)
		} else {
			el, m, err := tuple.DecodeElement(key[off:])
			if err != nil {
				return false
			}
			val, err := k.col.Value(el)
			if err != nil {
				return false
			}
			setKeyValue(reflect.NewAt(rp.typ, base).Elem().Field(k.index), k.kind, val)
			n = m
		}
		off += n
	}
	if rs.n > 0 { // none when the arena cut them as they came (add)
		rs.store(base, arena)
	}
	return true
}

// maxKeyCols is the most key columns a keyCols records: a table with
// more has its row keys parsed again by setKeys.
const maxKeyCols = 8

// keyCols is what Table.rowKeyCols found of a row key: where each key
// column's element ends (an offset in the key) and which of them are plain
// string or bytes elements (tuple.PlainBytes: a one-byte tag, the payload,
// a two-byte terminator, checked to be of the column's field and kind).
type keyCols struct {
	n     int // the columns recorded (0: none)
	end   [maxKeyCols]int
	plain uint8 // bit i: column i's element is plain
}

// forget records no columns: the key they were found in is no longer
// the one read.
func (kc *keyCols) forget() { kc.n = 0 }

// keyString decodes the element of the string column col at the start of
// b and returns its bytes (aliasing b where they need no unescaping) and
// its length; -1 when it is not a well-formed element of col.
func keyString(col *schema.Column, b []byte) ([]byte, int) {
	if s, n, ok := tuple.PlainBytes(b, col.Num, col.Kind); ok {
		return s, n
	}
	el, n, err := tuple.DecodeElement(b)
	if err != nil || el.Field != col.Num || el.Kind != col.Kind {
		return nil, -1
	}
	return el.Bytes, n
}

// rowStrings gathers the string fields of one row (bytes of the stored
// key and value, valid during the decode), so that the row's strings are
// made in one piece (store): cut from the scan's blocks (a stringArena),
// or, without one, one string holding them all, of which each field gets
// its part. A row scan's rowStrings (rowAlloc.rs) holds the scan's arena:
// once the arena has a block (after the first row's strings, which get a
// block of their size), each string is cut from it as it comes (add),
// a copy into the block and a string header, rather than gathered and
// then copied through a strings.Builder.
// The parts are immutable like any string (a block is only appended to,
// never rewritten); a string kept after its row is dropped keeps the
// block or string it was cut from alive, with the strings of the rows
// around it (see stringArena).
type rowStrings struct {
	refs  [maxRowStrings]stringRef
	n     int         // refs in use
	size  int         // their bytes
	arena stringArena // a row scan's (store is given it); unused otherwise
}

// stringArena is the blocks of memory a row scan cuts its rows' strings
// from. A block is only appended to, within its capacity, so a string cut
// from it (unsafe.String over the block's bytes, which nothing writes
// again) stays valid and unchanged for ever; a kept string keeps its one
// block alive, with the strings of the rows around it: at most arenaBlock
// bytes, or the string's own bytes when they are longer (those get a
// block of their own). The first row's strings get a block of their size
// (a scan of one row, a point read, allocates what its strings need, as
// without an arena), which one of them kept keeps whole, more than
// arenaBlock bytes when they are; the blocks after it are of minArenaBlock bytes,
// doubling up to arenaBlock.
type stringArena struct {
	b    []byte // the current block: cut strings in b, free room after
	next int    // the size of the next block; 0 before the first
}

const (
	// minArenaBlock is the size of a stringArena's second block.
	minArenaBlock = 128
	// arenaBlock is the size of a stringArena's blocks once grown.
	arenaBlock = 4096
)

// cut appends the strings of refs, size bytes in all, to the current
// block, or a new one when they do not fit in what is left of it, and
// returns them as one string.
func (a *stringArena) cut(refs []stringRef, size int) string {
	if size == 0 {
		return ""
	}
	if cap(a.b)-len(a.b) < size {
		if !a.grow(size) {
			// A block of their own; the current one stays.
			b := make([]byte, 0, size)
			for _, r := range refs {
				b = append(b, r.b...)
			}
			return unsafe.String(unsafe.SliceData(b), size)
		}
	}
	start := len(a.b)
	for _, r := range refs {
		a.b = append(a.b, r.b...)
	}
	return unsafe.String(&a.b[start], size)
}

// str is cut of one string b: its copy in the current block, or in a new
// one when it does not fit in what is left of it.
func (a *stringArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.b)-len(a.b) < len(b) && !a.grow(len(b)) {
		return string(b) // a block of its own; the current one stays
	}
	start := len(a.b)
	a.b = append(a.b, b...)
	return unsafe.String(&a.b[start], len(b))
}

// grow starts the next block for size bytes that do not fit in what is
// left of the current one, and reports whether they go there: false when
// they are more than the next block holds (the caller then gives them a
// block of their own and the current block stays).
func (a *stringArena) grow(size int) bool {
	blk := a.next
	a.next = min(max(2*blk, minArenaBlock), arenaBlock)
	if size > blk {
		return false
	}
	a.b = make([]byte, 0, blk)
	return true
}

// rowAlloc is where a planned row scan's rows come from (one plan's: see
// row), with the blocks their strings are cut from (arena).
//
// With ScanOptions.Reuse every row is decoded into one message (ptr),
// cleared first: the message yielded is valid until the next row.
//
// Otherwise every row is a message of its own, the caller's, taken from
// a slab: an array of messages allocated at once, whose elements are
// handed out one by one, each once (their addresses: a message is never
// copied). Slabs double from 1 message up to as many as fit in slabBytes,
// so that a scan of a few rows (a point read) allocates no more messages
// than it returns, and a long one a slab per 6.75 KiB of messages (57
// rows of a 120-byte message). A row kept after the scan keeps its whole
// slab alive — the other rows of the slab, slabBytes in all, and what
// they hold (their strings' blocks, bytes fields) — until every row of
// the slab is unreachable.
type rowAlloc struct {
	reuse bool
	ptr   reflect.Value        // Reuse: the plan's message (*typ), or invalid
	at    unsafe.Pointer       // Reuse: ptr's address
	elem  reflect.Value        // Reuse: ptr.Elem()
	m     proto.Message        // Reuse: ptr's message
	msg   protoreflect.Message // Reuse: the message of the generic decode, or nil
	plan  *rowPlan             // the plan of slab; with Reuse, the plan of ptr; or nil
	slab  unsafe.Pointer       // the current slab: an [n]plan.typ's first element
	size  uintptr              // its elements' size (plan.typ's)
	k     int                  // its size's index in plan.slabs
	next  int                  // its first element not handed out
	n     int                  // its length
	rs    rowStrings           // the strings of the row being decoded, forgotten after it; the arena they are cut from
}

// slabBytes bounds the slabs of a rowAlloc: the largest is as many
// messages as fit in it (at least one). It is one of Go's allocation size
// classes whose spans hold several objects (6,912 bytes: seven to a 48 KiB
// span), so that the allocator takes a new span from the heap (a lock, a
// span's setup) once every seven slabs rather than for each, as the 8 KiB
// class (one object to a span) did. An object of more than 512 bytes that
// holds pointers carries a header of mallocHeader bytes in its
// allocation, so a slab fits the class when its messages take at most
// slabBytes-mallocHeader (57 messages of 120 bytes, 6,848 bytes).
const (
	slabBytes    = 6912
	mallocHeader = 8
)

// slabTypes returns the types of the slabs of rows of Go type typ: arrays
// of 1, 2, 4, … messages, then the largest, as many as fit in slabBytes
// (at least one message).
func slabTypes(typ reflect.Type) []reflect.Type {
	most := max(1, (slabBytes-mallocHeader)/max(int(typ.Size()), 1))
	var out []reflect.Type
	n := 1
	for ; n < most; n *= 2 {
		out = append(out, reflect.ArrayOf(n, typ))
	}
	return append(out, reflect.ArrayOf(most, typ))
}

// row returns the address of the message (an rp.typ) the plan rp decodes
// the next row into, zero: ra's one message with Reuse, or the next
// element of a slab (handed out once taken), or with ra nil a new message.
// A slab's element is found from its first by its index times the size of
// rp.typ (the layout of a Go array), without a reflect.Value per row; the
// slab is kept alive by the rows handed out and by ra.slab.
//
// A slab is done once next reaches n or passes it: next > n (rows taken
// past the slab's end, which a taken without a row before it would make)
// starts a new slab like next == n, so that the element's address never
// lies past the slab's end, where the decode would write over other
// objects of the heap and crash the process far from the cause. The
// check is the same one comparison as next == n.
func (ra *rowAlloc) row(rp *rowPlan) unsafe.Pointer {
	switch {
	case ra == nil:
		return reflect.New(rp.typ).UnsafePointer()
	case ra.reuse:
		ra.planned(rp)
		return ra.at
	}
	if ra.plan != rp || ra.next >= ra.n {
		k := 0
		if ra.plan == rp {
			k = min(ra.k+1, len(rp.slabs)-1)
		}
		ra.plan, ra.k = rp, k
		ra.slab, ra.size = reflect.New(rp.slabs[k]).UnsafePointer(), rp.typ.Size()
		ra.next, ra.n = 0, rp.slabs[k].Len()
	}
	return unsafe.Add(ra.slab, uintptr(ra.next)*ra.size)
}

// taken records that the row last returned by row was decoded and handed
// out: the next row takes the next element of the slab.
func (ra *rowAlloc) taken() {
	if ra != nil && !ra.reuse {
		ra.next++
	}
}

// decline clears the row at p, the one last returned by row for rp,
// which the plan declined after setting some of its fields, so that the
// slab's element is zero for the next row. (With Reuse, the next row
// clears it.)
func (ra *rowAlloc) decline(rp *rowPlan, p unsafe.Pointer) {
	if ra != nil && !ra.reuse {
		reflect.NewAt(rp.typ, p).Elem().SetZero()
	}
}

// message returns the row at p, which rp decoded into the message row
// returned, as a proto.Message: Reuse's one message, or one made from
// the row's address.
func (ra *rowAlloc) message(rp *rowPlan, p unsafe.Pointer) proto.Message {
	if ra != nil && ra.reuse {
		return ra.m
	}
	return reflect.NewAt(rp.typ, p).Interface().(proto.Message)
}

// planned returns the message of a planned decode by rp, of Go type
// *rp.typ, cleared. Whether ra's message is of that type is asked of the
// plan's pointer: a scan's rows share one plan, and comparing two
// reflect.Types (interfaces) calls the runtime for every row. Another plan
// of the same type only makes a new message.
func (ra *rowAlloc) planned(rp *rowPlan) reflect.Value {
	if ra.plan != rp {
		ra.ptr, ra.plan = reflect.New(rp.typ), rp
		ra.at, ra.elem = ra.ptr.UnsafePointer(), ra.ptr.Elem()
		ra.m = ra.ptr.Interface().(proto.Message)
		ra.msg = nil
		return ra.ptr
	}
	ra.elem.SetZero()
	return ra.ptr
}

// generic returns the message of the generic decode, new from mt, reset:
// the planned one when it is of mt's type. The planned message's
// reflection is taken from it on each call, not kept: planned clears the
// whole struct, protobuf-go's state in it too, which only its ProtoReflect
// restores (a reflection kept from before would panic on its next use,
// at the second row the plan declines).
func (ra *rowAlloc) generic(mt protoreflect.MessageType) protoreflect.Message {
	if ra.m != nil {
		if m := ra.m.ProtoReflect(); m.Type() == mt {
			ra.msg = m
		}
	}
	if ra.msg == nil {
		ra.msg = mt.New()
	}
	proto.Reset(ra.msg.Interface())
	return ra.msg
}

// maxRowStrings is the most string fields rowStrings gathers; a row
// with more has the others made one by one.
const maxRowStrings = 8

// rowStringsMax, when set (by tests only, to check the strings made one
// by one against the others), lowers maxRowStrings.
var rowStringsMax atomic.Int32

// stringRef is a string field's offset in the row's struct and its bytes.
type stringRef struct {
	off uintptr
	b   []byte
}

// stringAt returns the string field at offset off of the row at base, a
// generated struct (a slab's element or Reuse's message). The offset is a
// plan's, of a struct field planKind found to be of Go type string:
// storing through it is reflect's Field(i).SetString without the checks
// and flag arithmetic of two reflect calls per string.
func stringAt(base unsafe.Pointer, off uintptr) *string {
	return (*string)(unsafe.Add(base, off))
}

// add records b as the string of the struct field at offset off of the
// row at base, replacing what an earlier occurrence of the field recorded
// (the last one wins, as in proto.Unmarshal).
func (rs *rowStrings) add(base unsafe.Pointer, off uintptr, b []byte) {
	if rs.arena.next != 0 {
		// A row scan's arena, which has a block: cut b from it now
		// (a later occurrence of the field is cut and stored over it).
		*stringAt(base, off) = rs.arena.str(b)
		return
	}
	for i := range rs.n {
		if r := &rs.refs[i]; r.off == off {
			rs.size += len(b) - len(r.b)
			r.b = b
			return
		}
	}
	if rs.full() {
		*stringAt(base, off) = string(b)
		return
	}
	rs.refs[rs.n] = stringRef{off: off, b: b}
	rs.n++
	rs.size += len(b)
}

// forget empties rs, reused for another value, dropping the bytes it
// recorded (the stored key's and value's).
func (rs *rowStrings) forget() {
	clear(rs.refs[:rs.n])
	rs.n, rs.size = 0, 0
}

// full reports whether rs holds as many strings as it gathers.
func (rs *rowStrings) full() bool {
	if m := rowStringsMax.Load(); m > 0 {
		return rs.n >= int(m)
	}
	return rs.n == len(rs.refs)
}

// store sets the recorded string fields of the row at base, cut from
// arena's blocks when it is not nil (the blocks shared with the scan's
// other rows).
func (rs *rowStrings) store(base unsafe.Pointer, arena *stringArena) {
	switch {
	case rs.n == 0:
		return
	case rs.n == 1 && arena == nil:
		*stringAt(base, rs.refs[0].off) = string(rs.refs[0].b)
		return
	}
	var all string
	if arena != nil {
		all = arena.cut(rs.refs[:rs.n], rs.size)
	} else if rs.size > 0 {
		var sb strings.Builder
		sb.Grow(rs.size)
		for _, r := range rs.refs[:rs.n] {
			sb.Write(r.b)
		}
		all = sb.String()
	}
	at := 0
	for _, r := range rs.refs[:rs.n] {
		*(*string)(unsafe.Add(base, r.off)) = all[at : at+len(r.b)]
		at += len(r.b)
	}
}

// set decodes the field's value of wire type typ at the start of b into
// its field of the row at base (a string: into rs, which stores it), as
// protobuf-go's coder of the field does, and returns its length; -1 when
// it cannot (another wire type, which Unmarshal keeps as an unknown
// field, a malformed value, a string that is not valid UTF-8).
//
// The value is stored at the field's offset, in the Go type planKind
// found the struct field to have (an open enum's named int32: an int32):
// the bytes reflect's Set methods would write, without their checks and
// a Value per field.
func (f *planField) set(base unsafe.Pointer, typ protowire.Type, b []byte, rs *rowStrings) int {
	p := unsafe.Add(base, f.off)
	switch f.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		if typ != protowire.BytesType {
			return -1
		}
		s, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return -1
		}
		if f.kind == protoreflect.BytesKind {
			*(*[]byte)(p) = append([]byte(nil), s...)
			return n
		}
		if !validUTF8(s) {
			return -1
		}
		rs.add(base, f.off, s)
		return n
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		if typ != protowire.Fixed32Type {
			return -1
		}
		x, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return -1
		}
		// A float's bits as they are (a signalling NaN's too), like the
		// fixed32's and sfixed32's.
		*(*uint32)(p) = x
		return n
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		if typ != protowire.Fixed64Type {
			return -1
		}
		x, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return -1
		}
		*(*uint64)(p) = x
		return n
	}
	if typ != protowire.VarintType {
		return -1
	}
	x, n := uint64(0), 1
	if len(b) > 0 && b[0] < 0x80 {
		x = uint64(b[0]) // a one-byte varint, read in line
	} else if x, n = protowire.ConsumeVarint(b); n < 0 {
		return -1
	}
	switch f.kind {
	case protoreflect.BoolKind:
		*(*bool)(p) = protowire.DecodeBool(x)
	case protoreflect.Int32Kind, protoreflect.EnumKind, protoreflect.Uint32Kind:
		*(*uint32)(p) = uint32(x)
	case protoreflect.Sint32Kind:
		*(*int32)(p) = int32(protowire.DecodeZigZag(x & math.MaxUint32))
	case protoreflect.Int64Kind, protoreflect.Uint64Kind:
		*(*uint64)(p) = x
	case protoreflect.Sint64Kind:
		*(*int64)(p) = protowire.DecodeZigZag(x)
	default:
		return -1 // planKind admits no other kind
	}
	return n
}

// setKeyValue stores the key column value v, of kind k (a key's: no
// floats), into fv as proto.Unmarshal stores the same field: an empty
// bytes value as nil.
func setKeyValue(fv reflect.Value, k protoreflect.Kind, v protoreflect.Value) {
	switch k {
	case protoreflect.StringKind:
		fv.SetString(v.String())
	case protoreflect.BytesKind:
		if b := v.Bytes(); len(b) > 0 { // Column.Value copied it
			fv.SetBytes(b)
		} else {
			fv.SetBytes(nil)
		}
	case protoreflect.BoolKind:
		fv.SetBool(v.Bool())
	case protoreflect.EnumKind:
		fv.SetInt(int64(v.Enum()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		fv.SetInt(v.Int())
	default:
		fv.SetUint(v.Uint())
	}
}
