package runtime

import (
	"encoding/hex"
	"strconv"
	"strings"

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
// whole map or one map entry. Refs are values; building one allocates its
// key and never touches the store.
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
}

// Row returns the Ref of the row with these key column values, in key
// order (none for a singleton table).
func (t *Table) Row(key ...protoreflect.Value) (Ref, error) {
	if len(key) != len(t.s.Key) {
		return Ref{}, invalid("%s has %d key columns (%s), got %d values", t.s.Desc.Name(), len(t.s.Key), columnList(t.s), len(key))
	}
	k := make([]byte, len(t.prefix), len(t.prefix)+32)
	copy(k, t.prefix)
	var keyErr error
	for i, col := range t.s.Key {
		if err := checkKeyValue(col.Field, key[i]); err != nil {
			return Ref{}, invalid("%s key: %v", t.s.Desc.Name(), err)
		}
		if err := checkUTF8(col.Field, key[i]); err != nil && keyErr == nil {
			keyErr = invalid("%s key: %v", t.s.Desc.Name(), err)
		}
		k = appendKeyElem(k, uint32(col.Field.Number()), col.Kind, col.Field, key[i])
	}
	return Ref{table: t, kind: RefRow, key: k, node: t.s.Root, keyErr: keyErr}, nil
}

// RowOf returns the Ref of the row that m (a message of the table's type)
// would be stored under.
func (t *Table) RowOf(m proto.Message) (Ref, error) {
	pm := m.ProtoReflect()
	if pm.Descriptor().FullName() != t.s.Desc.FullName() {
		return Ref{}, invalid("table %s stores %s, got %s", t.s.Desc.Name(), t.s.Desc.FullName(), pm.Descriptor().FullName())
	}
	vals := make([]protoreflect.Value, len(t.s.Key))
	for i, col := range t.s.Key {
		vals[i] = pm.Get(pm.Descriptor().Fields().ByNumber(col.Field.Number()))
	}
	return t.Row(vals...)
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

// render writes the symbolic path of an object key of t, walking its
// elements down the schema. A key that does not decode renders what did.
func (t *Table) render(key []byte) string {
	var b strings.Builder
	b.WriteString(string(t.s.Desc.Name()))
	b.WriteByte('[')
	off := len(t.prefix)
	for i := range t.s.Key {
		e, n, err := tuple.DecodeElement(key[off:])
		if err != nil {
			return b.String() + "?]"
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(elemValue(e))
		off += n
	}
	b.WriteByte(']')
	for node := t.s.Root; off < len(key) && node != nil; {
		e, n, err := tuple.DecodeElement(key[off:])
		if err != nil {
			break
		}
		f := node.Child(e.Field, e.Kind)
		if f == nil {
			break
		}
		b.WriteString("." + string(f.Name()))
		if f.Storage == schema.Map {
			b.WriteString("[" + elemValue(e) + "]")
		}
		node, off = f.Child, off+n
	}
	return b.String()
}

// elemValue renders a key element's value the way queries write literals.
func elemValue(e tuple.Element) string {
	switch e.Kind.Ascending() {
	case tuple.KindString:
		return strconv.Quote(string(e.Bytes))
	case tuple.KindBytes:
		return "0x" + hex.EncodeToString(e.Bytes)
	case tuple.KindInt:
		return strconv.FormatInt(e.Int, 10)
	case tuple.KindUint:
		return strconv.FormatUint(e.Uint, 10)
	case tuple.KindBool:
		return strconv.FormatBool(e.Bool)
	}
	return ""
}

// Field steps into a field stored under its own key: a breakout field, an
// object field or a map.
func (r Ref) Field(num protoreflect.FieldNumber) (Ref, error) {
	if r.node == nil {
		return Ref{}, invalid("%s has no fields to step into", r)
	}
	f := r.node.Field(num)
	if f == nil {
		return Ref{}, invalid("%s has no field number %d", r.node.Desc.FullName(), num)
	}
	next := Ref{table: r.table, field: f, keyErr: r.keyErr}
	base := r.key[:len(r.key):len(r.key)] // force appends to copy
	switch f.Storage {
	case schema.Breakout:
		next.kind, next.key = RefBreakout, tuple.AppendUnit(base, uint32(num))
	case schema.Object:
		next.kind, next.key, next.node = RefObject, tuple.AppendUnit(base, uint32(num)), f.Child
	case schema.Map:
		next.kind, next.key, next.parentLen = RefMap, tuple.AppendTag(base, uint32(num), f.ElemKind), len(base)
	default:
		return Ref{}, invalid("%s.%s is stored as %s, not under its own key", r, f.Name(), f.Storage)
	}
	return next, nil
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
func (r Ref) Entry(key protoreflect.Value) (Ref, error) {
	if r.kind != RefMap {
		return Ref{}, invalid("%s is not a map", r)
	}
	f := r.field
	if err := checkKeyValue(f.MapKey, key); err != nil {
		return Ref{}, invalid("%s key: %v", r, err)
	}
	keyErr := r.keyErr
	if err := checkUTF8(f.MapKey, key); err != nil && keyErr == nil {
		keyErr = invalid("%s key: %v", r, err)
	}
	k := appendKeyElem(r.key[:r.parentLen:r.parentLen], uint32(f.Number()), f.ElemKind, f.MapKey, key)
	return Ref{table: r.table, kind: RefEntry, key: k, node: f.Child, field: f, parentLen: r.parentLen, keyErr: keyErr}, nil
}
