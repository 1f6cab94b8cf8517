package runtime

import (
	"bytes"
	"strings"
	"sync/atomic"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Table is one table of a DB.
type Table struct {
	db     *DB
	s      *schema.Table
	prefix []byte // namespace + table element
	// apart holds the key prefix of each field stored apart, in the order
	// of s.Apart (apart.go).
	apart [][]byte
	projs projCache // ScanOptions.Fields (scan.go)
	// rt caches the row message's type and decode plan (rowType).
	rt atomic.Pointer[rowType]
}

// rowType is the Go type the table's rows are decoded into (DB.NewMessage's
// choice, fixed for the DB once made) and its decode plan.
type rowType struct {
	mt   protoreflect.MessageType
	plan *msgPlan
}

// rowType returns the table's row type, looked up on first use, so that a
// scan does not look the type and its plan up for every row.
func (t *Table) rowType() *rowType {
	if rt := t.rt.Load(); rt != nil {
		return rt
	}
	m := t.db.NewMessage(t.s.Desc)
	rt := &rowType{mt: m.Type(), plan: decodePlanOf(m)}
	t.rt.Store(rt)
	return rt
}

// Schema returns the table's layout.
func (t *Table) Schema() *schema.Table { return t.s }

// DB returns the table's DB.
func (t *Table) DB() *DB { return t.db }

// RefKind says what a Ref points at.
type RefKind uint8

// The things a Ref can address.
const (
	RefRow RefKind = iota + 1
	RefObject
	RefBreakout
	RefMap
	RefEntry
)

// Ref addresses a row or a part of one: an object field, a breakout field, a
// whole map or one map entry. Refs are values; building one never touches
// the store, and allocates at most its key (a Ref stepped into from a row
// usually builds its key in the row's key buffer: see keyBuf).
type Ref struct {
	table *Table
	kind  RefKind
	key   []byte        // the object's key; for a map, parent key + the map's tag
	node  *schema.Node  // layout at key, for rows, objects and message map entries
	field *schema.Field // the field stepped into last (nil for rows)
	// parentLen is, for a map or entry Ref, the length of the key of the
	// object holding the map.
	parentLen int
	// keyErr is set when a string element of the key is not valid UTF-8
	// although its field requires it: reads of such a Ref find nothing,
	// writes through it (and every Ref below it) are refused, because the
	// message read back could not be marshalled.
	keyErr error
	// apart is the field stored apart that the Ref is (or lies under), whose
	// key space its key is in; nil for colocated Refs.
	apart *schema.Field
	// buf, when not nil, is the memory key lies at the start of, shared
	// with the Refs derived from the same row (see keyBuf).
	buf *keyBuf
}

// keyBuf holds the key of a row Ref and, in place after it, the keys of
// Refs stepped into from it (Field, Entry), so that a handle such as
// Row(id).Sessions().Entry(s) builds its keys in one allocation. Bytes
// once part of a Ref's key never change: a step appends in place only
// when it claims (used, compare-and-swap, so Refs may be shared between
// goroutines) the bytes right after its parent's key, which no Ref holds
// yet; stepping again from the same parent finds them claimed and copies.
// Every key lying in a keyBuf has its capacity cut to its length, so that
// an append to it elsewhere copies too.
type keyBuf struct {
	used atomic.Int32 // the length of the longest key built in b
	b    [keyBufSize]byte
}

const keyBufSize = 60 // the struct fills a 64-byte size class

// newKeyBuf returns a keyBuf and its memory, empty, for a key to be built
// by appending (one that outgrows it moves elsewhere; see ownedKey).
func newKeyBuf() (*keyBuf, []byte) {
	kb := new(keyBuf)
	return kb, kb.b[:0:keyBufSize]
}

// ownedKey returns k, built by appending to kb's memory, with its capacity
// cut to its length, and kb marking it as used, or a nil kb when k
// outgrew kb's memory and was moved.
func ownedKey(kb *keyBuf, k []byte) ([]byte, *keyBuf) {
	if len(k) == 0 || cap(k) != keyBufSize || &k[0] != &kb.b[0] {
		return k[:len(k):len(k)], nil
	}
	kb.used.Store(int32(len(k)))
	return k[:len(k):len(k)], kb
}

// extend returns r's key followed by elem: in r's keyBuf when r can claim
// the bytes after its key there, else in a new keyBuf (or a new slice when
// it does not fit one), and the keyBuf the result lies in.
func (r *Ref) extend(elem []byte) ([]byte, *keyBuf) {
	n, m := len(r.key), len(r.key)+len(elem)
	if kb := r.buf; kb != nil && m <= keyBufSize && kb.used.CompareAndSwap(int32(n), int32(m)) {
		copy(kb.b[n:m], elem)
		return kb.b[:m:m], kb
	}
	if m > keyBufSize {
		k := make([]byte, 0, m)
		return append(append(k, r.key...), elem...), nil
	}
	kb, k := newKeyBuf()
	return ownedKey(kb, append(append(k, r.key...), elem...))
}

// maxScalarValue is the most bytes the value of a breakout field or a
// scalar map entry takes when its kind is neither string nor bytes: a tag
// (at most 5 bytes) and a varint or fixed number (at most 10).
const maxScalarValue = 5 + 10

// valueRoom returns room for the value a setter writes at r, when r is a
// breakout field or a scalar map entry whose value kind has a bounded size
// (maxScalarValue): the bytes after r's key in its keyBuf, claimed as
// extend claims the bytes of a key, so that the value is encoded without a
// pooled buffer (DB.setKey). It returns nil, for the caller to find other
// room, when r's key lies in no keyBuf, the keyBuf has no room left, or the
// bytes after r's key are claimed already (a key stepped into from r, or
// the value of an earlier write through r). Nothing steps into a breakout
// field or a scalar map entry, so the claim takes no step's room; the
// claimed bytes belong to the one write, which the store does not retain
// (kv.KeySetter).
func (r *Ref) valueRoom() []byte {
	if r.buf == nil || r.field == nil || (r.kind != RefBreakout && r.kind != RefEntry) {
		return nil
	}
	switch r.field.ValueKind() {
	case 0, protoreflect.StringKind, protoreflect.BytesKind:
		return nil
	}
	n, m := len(r.key), len(r.key)+maxScalarValue
	if m > keyBufSize || !r.buf.used.CompareAndSwap(int32(n), int32(m)) {
		return nil
	}
	return r.buf.b[n:n:m]
}

// Row returns the Ref of the row with these key column values, in key
// order (none for a singleton table).
func (t *Table) Row(key ...protoreflect.Value) (Ref, error) { return t.row(false, key...) }

// row is Row; typed says the values' types have been checked (see
// keyFits).
func (t *Table) row(typed bool, key ...protoreflect.Value) (Ref, error) {
	var r Ref
	if err := t.rowTo(&r, typed, key...); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// rowTo is row, writing the Ref to *r (left zero on an error), which the
// typed layer's Row builds in place (a Ref is 96 bytes).
func (t *Table) rowTo(r *Ref, typed bool, key ...protoreflect.Value) error {
	if len(key) != len(t.s.Key) {
		return invalid("%s has %d key columns (%s), got %d values", t.s.Desc.Name(), len(t.s.Key), columnList(t.s), len(key))
	}
	kb, k := newKeyBuf()
	k = append(k, t.prefix...)
	var keyErr error
	for i, col := range t.s.Key {
		if !typed {
			if err := col.Check(key[i]); err != nil {
				return invalidKey(err, "%s key", t.s.Desc.Name())
			}
		}
		if err := checkKeyUTF8(col, key[i]); err != nil && keyErr == nil {
			keyErr = invalid("%s key: %v", t.s.Desc.Name(), err)
		}
		k = col.Append(k, key[i])
	}
	k, kb = ownedKey(kb, k)
	*r = Ref{table: t, kind: RefRow, key: k, node: t.s.Root, keyErr: keyErr, buf: kb}
	return nil
}

// rowStringTo is rowTo of a table whose one key column is a string
// column, for its key s, typed: the typed layer's Row of a string key (see
// TypedTable.keyString), which appends the element from s without a
// protoreflect.Value, the loop over the columns and the column's switch
// over tuple kinds (≈ 130 instructions of a breakout update), and builds
// the same Ref, keyErr included.
func (t *Table) rowStringTo(r *Ref, s string) {
	col := t.s.Key[0]
	kb, k := newKeyBuf()
	k = append(k, t.prefix...)
	var keyErr error
	if col.UTF8 && !validUTF8String(s) {
		keyErr = invalid("%s key: %v", t.s.Desc.Name(), utf8Error(col.Field))
	}
	k = tuple.AppendString(k, col.Num, col.Dir, s)
	k, kb = ownedKey(kb, k)
	*r = Ref{table: t, kind: RefRow, key: k, node: t.s.Root, keyErr: keyErr, buf: kb}
}

// RowOf returns the Ref of the row that m (a message of the table's type)
// would be stored under.
func (t *Table) RowOf(m proto.Message) (Ref, error) {
	pm := m.ProtoReflect()
	if pm.Descriptor().FullName() != t.s.Desc.FullName() {
		return Ref{}, invalid("table %s stores %s, got %s", t.s.Desc.Name(), t.s.Desc.FullName(), pm.Descriptor().FullName())
	}
	var arr [4]protoreflect.Value // the values of a key of up to 4 columns stay on the stack
	vals := arr[:0]
	for _, col := range t.s.Key {
		vals = append(vals, pm.Get(pm.Descriptor().Fields().ByNumber(col.Field.Number())))
	}
	return t.row(false, vals...)
}

func columnList(t *schema.Table) string {
	var names []string
	for _, c := range t.Key {
		names = append(names, string(c.Field.Name()))
	}
	return strings.Join(names, ", ")
}

// Kind returns what the Ref addresses.
func (r Ref) Kind() RefKind { return r.kind }

// Key returns the Ref's key (a map's Ref: the prefix of its entries). The
// caller must not modify it.
func (r Ref) Key() []byte { return r.key }

// Table returns the Ref's table.
func (r Ref) Table() *Table { return r.table }

// Node returns the layout of the addressed object, or nil when the Ref
// addresses a breakout field, a whole map or a scalar map entry.
func (r Ref) Node() *schema.Node { return r.node }

// SchemaField returns the field the Ref stepped into last; nil for a row.
func (r Ref) SchemaField() *schema.Field { return r.field }

// String returns the symbolic path, such as User["alice"].sessions["s1"].
// It is rendered from the key on demand (building a Ref does not pay for
// it): only errors and explain need it.
func (r Ref) String() string {
	if r.table == nil {
		return "<zero Ref>"
	}
	if r.kind == RefMap {
		return r.table.render(r.key[:r.parentLen]) + "." + string(r.field.Name())
	}
	return r.table.render(r.key)
}

// render returns the symbolic path of an object key of t (see
// schema.Location). A key that does not resolve renders what did.
func (t *Table) render(key []byte) string {
	elems, _, err := schema.DecodeKey(key[len(t.db.ns):])
	if err != nil {
		return string(t.s.Desc.Name()) + "[?]"
	}
	loc, _ := t.db.cat.Locate(elems)
	if loc == nil {
		return string(t.s.Desc.Name()) + "[?]"
	}
	return loc.String()
}

// Field steps into a field stored under its own key: a breakout field, an
// object field or a map.
func (r Ref) Field(num protoreflect.FieldNumber) (Ref, error) {
	var next Ref
	if err := r.stepField(&next, num); err != nil {
		return Ref{}, err
	}
	return next, nil
}

// stepField is Field, writing the Ref stepped into to *next (left zero on an
// error): r and the result stay where they are instead of being copied
// in and out (a handle steps into a field on every call of a generated
// field method).
func (r *Ref) stepField(next *Ref, num protoreflect.FieldNumber) error {
	if r.node == nil {
		return invalid("%s has no fields to step into", *r)
	}
	f := r.node.Field(num)
	if f == nil {
		return invalid("%s has no field number %d", r.node.Desc.FullName(), num)
	}
	var kind RefKind
	var node *schema.Node
	switch f.Storage {
	case schema.Breakout:
		kind = RefBreakout
	case schema.Object:
		kind, node = RefObject, f.Child
	case schema.Map:
		kind = RefMap
	default:
		return invalid("%s.%s is stored as %s, not under its own key", *r, f.Name(), f.Storage)
	}
	*next = Ref{table: r.table, kind: kind, node: node, field: f, keyErr: r.keyErr, apart: r.apart}
	if f.Apart {
		base := r.table.apartKey(f, r.key)
		next.apart = f
		if f.Storage == schema.Map {
			next.parentLen = len(base)
		}
		next.key = f.AppendElem(base)
		next.key = next.key[:len(next.key):len(next.key)] // force appends to copy
		return nil
	}
	var tag [16]byte // a field's element (at most 9 bytes), on the stack
	if f.Storage == schema.Map {
		next.parentLen = len(r.key)
	}
	next.key, next.buf = r.extend(f.AppendElem(tag[:0]))
	return nil
}

// FieldByName is Field by the field's proto name.
func (r Ref) FieldByName(name string) (Ref, error) {
	if r.node == nil {
		return Ref{}, invalid("%s has no fields to step into", r)
	}
	fd := r.node.Desc.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return Ref{}, invalid("%s has no field %q", r.node.Desc.FullName(), name)
	}
	return r.Field(fd.Number())
}

// Entry steps from a map Ref to the entry with this key.
func (r Ref) Entry(key protoreflect.Value) (Ref, error) { return r.entry(key, false) }

// entry is Entry; typed says the key's type has been checked (see keyFits).
func (r Ref) entry(key protoreflect.Value, typed bool) (Ref, error) {
	if r.kind != RefMap {
		return Ref{}, invalid("%s is not a map", r)
	}
	f := r.field
	if !typed {
		if err := f.Key.Check(key); err != nil {
			return Ref{}, invalidKey(err, "%s key", r)
		}
	}
	keyErr := r.keyErr
	if err := checkKeyUTF8(f.Key, key); err != nil && keyErr == nil {
		keyErr = invalid("%s key: %v", r, err)
	}
	next := Ref{table: r.table, kind: RefEntry, node: f.Child, field: f, parentLen: r.parentLen, keyErr: keyErr, apart: r.apart}
	// The entry's key is the map's parent's key and the key element, which
	// starts with the map's tag, the end of the map's key: extend the
	// map's key with the rest of the element when it does.
	var scratch [64]byte
	elem := f.Key.Append(scratch[:0], key)
	if tag := r.key[r.parentLen:]; bytes.HasPrefix(elem, tag) {
		next.key, next.buf = r.extend(elem[len(tag):])
	} else {
		k := append(r.key[:r.parentLen:r.parentLen], elem...)
		next.key = k[:len(k):len(k)]
	}
	return next, nil
}
