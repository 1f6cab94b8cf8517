package runtime

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// A row scan whose projection keeps only scalar fields (ScanOptions.Fields
// naming strings, numbers, bools, open enums) decodes each row straight
// into a new value of the row's generated Go struct: the kept fields of the
// row's filtered value with protowire, the key columns from the key, each
// stored into its struct field through reflect. That replaces building the
// message through protoreflect (New, then Interface), appending the key
// columns to a copy of the value and one proto.Unmarshal of the copy, the
// bulk of a projected row's CPU after the iterator's.
//
// The plan vouches only for what it decodes exactly as proto.Unmarshal of
// the same bytes does: proto3-style fields without presence (a plain Go
// field: what Unmarshal's own "no zero" coders set), outside oneofs, of a
// message without required fields, in exported struct fields (the opaque
// Go API's are unexported, which reflect cannot set: no plan). A row whose bytes hold anything else —
// another field, a wire type other than the field's, a malformed varint or
// length, a string that is not valid UTF-8, a key element that does not fit
// its column — is decoded by the path the plan replaces, which then sets
// the fields or reports the corruption exactly as before.

// rowPlan decodes rows of one table, for one projection, into its Go type.
type rowPlan struct {
	typ    reflect.Type // the generated struct (the message is *typ)
	fields []planField  // the kept fields, by field number
	keys   []planKey    // the key columns, in key order
	prefix int          // the table's key prefix length
	proj   *query.Proj  // the projection (decodeOwn filters by it)
}

// planField is a kept scalar field: its number, kind, and struct field.
// It is stored inline, in the row's value: a projection keeps (Proj.Keeps)
// inline fields only — query's checker sends key columns to the key and
// breakout fields to Proj.Children, and a plan is made only for a
// projection without children or joins (inlineOnly) — so filterChecked's
// refusal of a kept field stored otherwise never applies to a planned
// one. (TestRowPlanOwnMatchesFilter's values hold the key columns too.)
type planField struct {
	num   protowire.Number
	kind  protoreflect.Kind
	index int
}

// planKey is a key column and its struct field.
type planKey struct {
	col   *schema.Column
	kind  protoreflect.Kind
	index int
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
		rp.fields = append(rp.fields, planField{num: fd.Number(), kind: fd.Kind(), index: idx})
	}
	for _, col := range t.s.Key {
		fd := col.Field
		idx, ok := byNum[fd.Number()]
		if !ok || !plannable(fd, typ.Field(idx)) {
			return nil
		}
		rp.keys = append(rp.keys, planKey{col: col, kind: fd.Kind(), index: idx})
	}
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

// plannable reports whether the plan can store field fd into the struct
// field sf: one reflect may set (the opaque Go API's fields are unexported,
// which reflect refuses to set: a panic), of a kind planKind admits.
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
// With ru (ScanOptions.Reuse) the row is decoded into ru's message,
// cleared first, and its strings are cut from ru's block; otherwise into
// a new message.
func (rp *rowPlan) decodeOwn(key, value []byte, ru *rowReuse) (proto.Message, bool) {
	var ptr reflect.Value
	if ru != nil {
		ptr = ru.planned(rp.typ)
	} else {
		ptr = reflect.New(rp.typ)
	}
	v := ptr.Elem()
	var rs rowStrings
	if ru != nil {
		rs.arena = &ru.arena
	}
	for b := value; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		switch f := rp.field(num); {
		case f != nil:
			n = f.set(v, typ, b, &rs)
		case rp.proj.Keeps(num):
			return nil, false
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, false
		}
		b = b[n:]
	}
	return rp.setKeys(ptr, v, key, &rs)
}

// setKeys stores the key columns of key into the new row v (*ptr), then
// the row's strings rs (the fields' and the key's), and returns the row,
// or false when a key element does not fit its column.
func (rp *rowPlan) setKeys(ptr, v reflect.Value, key []byte, rs *rowStrings) (proto.Message, bool) {
	off := rp.prefix
	for i := range rp.keys {
		k := &rp.keys[i]
		var n int
		if k.kind == protoreflect.StringKind {
			// Column.Value, without its copy of the string (rs makes
			// the row's one), and for the usual element without an
			// Element (tuple.PlainBytes).
			var s []byte
			if s, n = keyString(k.col, key[off:]); n < 0 || k.col.UTF8 && !utf8.Valid(s) {
				return nil, false
			}
			rs.add(v, k.index, s)
		} else {
			el, m, err := tuple.DecodeElement(key[off:])
			if err != nil {
				return nil, false
			}
			val, err := k.col.Value(el)
			if err != nil {
				return nil, false
			}
			setKeyValue(v.Field(k.index), k.kind, val)
			n = m
		}
		off += n
	}
	rs.store(v)
	return ptr.Interface().(proto.Message), true
}

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
// made with one allocation: one string holding them all, of which each
// field gets its part. The parts are immutable like any string, and they
// share the lifetime of the row that holds them; only a string kept
// after its row is dropped keeps its row mates' bytes alive with it (at
// most the row's key and value bytes; few unless the projection holds a
// long string field).
type rowStrings struct {
	refs [maxRowStrings]stringRef
	n    int // refs in use
	size int // their bytes
	// arena, when not nil (ScanOptions.Reuse), is the block the strings
	// are cut from, shared with the scan's other rows.
	arena *strings.Builder
}

// arenaBlock is the size of the blocks a reusing row scan
// (ScanOptions.Reuse) cuts its rows' strings from.
const arenaBlock = 4096

// rowReuse is the state of a row scan with ScanOptions.Reuse: the one
// message every row is decoded into, and the block of memory the rows'
// strings are cut from. A string stays valid (strings are immutable: the
// block is only appended to), but it keeps the whole block alive, with
// the strings of the rows around it: at most arenaBlock bytes, or the
// row's own strings when they are longer.
type rowReuse struct {
	ptr   reflect.Value        // the plan's message (*typ), or invalid
	msg   protoreflect.Message // the message of the generic decode, or nil
	arena strings.Builder
}

// planned returns the message of a planned decode, of Go type *typ,
// cleared.
func (ru *rowReuse) planned(typ reflect.Type) reflect.Value {
	if !ru.ptr.IsValid() || ru.ptr.Type().Elem() != typ {
		ru.ptr = reflect.New(typ)
		ru.msg = nil
		return ru.ptr
	}
	ru.ptr.Elem().SetZero()
	return ru.ptr
}

// generic returns the message of the generic decode, new from mt, reset:
// the planned one when it is of mt's type.
func (ru *rowReuse) generic(mt protoreflect.MessageType) protoreflect.Message {
	if ru.msg == nil {
		if ru.ptr.IsValid() {
			if m, ok := ru.ptr.Interface().(proto.Message); ok && m.ProtoReflect().Type() == mt {
				ru.msg = m.ProtoReflect()
			}
		}
		if ru.msg == nil {
			ru.msg = mt.New()
		}
	}
	proto.Reset(ru.msg.Interface())
	return ru.msg
}

// maxRowStrings is the most string fields rowStrings gathers; a row
// with more has the others made one by one.
const maxRowStrings = 8

// rowStringsMax, when set (by tests only, to check the strings made one
// by one against the others), lowers maxRowStrings.
var rowStringsMax atomic.Int32

// stringRef is a string field's struct index and its bytes.
type stringRef struct {
	index int
	b     []byte
}

// add records b as the string of struct field index of the row v,
// replacing what an earlier occurrence of the field recorded (the last
// one wins, as in proto.Unmarshal).
func (rs *rowStrings) add(v reflect.Value, index int, b []byte) {
	for i := range rs.n {
		if r := &rs.refs[i]; r.index == index {
			rs.size += len(b) - len(r.b)
			r.b = b
			return
		}
	}
	if rs.full() {
		v.Field(index).SetString(string(b))
		return
	}
	rs.refs[rs.n] = stringRef{index: index, b: b}
	rs.n++
	rs.size += len(b)
}

// full reports whether rs holds as many strings as it gathers.
func (rs *rowStrings) full() bool {
	if m := rowStringsMax.Load(); m > 0 {
		return rs.n >= int(m)
	}
	return rs.n == len(rs.refs)
}

// store sets the recorded string fields of the row v.
func (rs *rowStrings) store(v reflect.Value) {
	switch {
	case rs.n == 0:
		return
	case rs.n == 1 && rs.arena == nil:
		v.Field(rs.refs[0].index).SetString(string(rs.refs[0].b))
		return
	}
	var all string
	if rs.arena != nil {
		all = rs.cut()
	} else if rs.size > 0 {
		var sb strings.Builder
		sb.Grow(rs.size)
		for _, r := range rs.refs[:rs.n] {
			sb.Write(r.b)
		}
		all = sb.String()
	}
	off := 0
	for _, r := range rs.refs[:rs.n] {
		v.Field(r.index).SetString(all[off : off+len(r.b)])
		off += len(r.b)
	}
}

// cut appends the recorded strings to the arena, in a new block when
// they do not fit in what is left of its current one, and returns them as
// one string.
func (rs *rowStrings) cut() string {
	a := rs.arena
	if rs.size == 0 {
		return ""
	}
	if a.Cap()-a.Len() < rs.size {
		a.Reset()
		a.Grow(max(rs.size, arenaBlock))
	}
	start := a.Len()
	for _, r := range rs.refs[:rs.n] {
		a.Write(r.b)
	}
	return a.String()[start:]
}

// field returns the plan's field numbered num, or nil.
func (rp *rowPlan) field(num protowire.Number) *planField {
	for i := range rp.fields {
		if rp.fields[i].num == num {
			return &rp.fields[i]
		}
	}
	return nil
}

// set decodes the field's value of wire type typ at the start of b into
// its field of the row v (a string: into rs, which stores it), as
// protobuf-go's coder of the field does, and returns its length; -1 when
// it cannot (another wire type, which Unmarshal keeps as an unknown
// field, a malformed value, a string that is not valid UTF-8).
func (f *planField) set(v reflect.Value, typ protowire.Type, b []byte, rs *rowStrings) int {
	if f.kind == protoreflect.StringKind {
		if typ != protowire.BytesType {
			return -1
		}
		s, n := protowire.ConsumeBytes(b)
		if n < 0 || !utf8.Valid(s) {
			return -1
		}
		rs.add(v, f.index, s)
		return n
	}
	fv := v.Field(f.index)
	switch f.kind {
	case protoreflect.BytesKind:
		if typ != protowire.BytesType {
			return -1
		}
		s, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return -1
		}
		fv.SetBytes(append([]byte(nil), s...))
		return n
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		if typ != protowire.Fixed32Type {
			return -1
		}
		x, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return -1
		}
		switch f.kind {
		case protoreflect.FloatKind:
			// Stored through its pointer: a float32 passed as float64
			// (SetFloat) could lose a signalling NaN's bits.
			*fv.Addr().Interface().(*float32) = math.Float32frombits(x)
		case protoreflect.Fixed32Kind:
			fv.SetUint(uint64(x))
		default:
			fv.SetInt(int64(int32(x)))
		}
		return n
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		if typ != protowire.Fixed64Type {
			return -1
		}
		x, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return -1
		}
		switch f.kind {
		case protoreflect.DoubleKind:
			*fv.Addr().Interface().(*float64) = math.Float64frombits(x)
		case protoreflect.Fixed64Kind:
			fv.SetUint(x)
		default:
			fv.SetInt(int64(x))
		}
		return n
	}
	if typ != protowire.VarintType {
		return -1
	}
	x, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return -1
	}
	switch f.kind {
	case protoreflect.BoolKind:
		fv.SetBool(protowire.DecodeBool(x))
	case protoreflect.Int32Kind, protoreflect.EnumKind:
		fv.SetInt(int64(int32(x)))
	case protoreflect.Sint32Kind:
		fv.SetInt(int64(int32(protowire.DecodeZigZag(x & math.MaxUint32))))
	case protoreflect.Uint32Kind:
		fv.SetUint(uint64(uint32(x)))
	case protoreflect.Int64Kind:
		fv.SetInt(int64(x))
	case protoreflect.Sint64Kind:
		fv.SetInt(protowire.DecodeZigZag(x))
	case protoreflect.Uint64Kind:
		fv.SetUint(x)
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
