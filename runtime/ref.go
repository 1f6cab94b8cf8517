package runtime

import (
	"bytes"
	"fmt"
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
	path  string        // symbolic path, for errors and explain
	// parentLen is, for a map or entry Ref, the length of the key of the
	// object holding the map.
	parentLen int
}

// Row returns the Ref of the row with these key column values, in key
// order (none for a singleton table).
func (t *Table) Row(key ...protoreflect.Value) (Ref, error) {
	if len(key) != len(t.s.Key) {
		return Ref{}, invalid("%s has %d key columns (%s), got %d values", t.s.Desc.Name(), len(t.s.Key), columnList(t.s), len(key))
	}
	k := bytes.Clone(t.prefix)
	var path strings.Builder
	path.WriteString(string(t.s.Desc.Name()) + "[")
	for i, col := range t.s.Key {
		if err := checkKeyValue(col.Field, key[i]); err != nil {
			return Ref{}, invalid("%s key: %v", t.s.Desc.Name(), err)
		}
		k = appendKeyElem(k, uint32(col.Field.Number()), col.Kind, col.Field, key[i])
		if i > 0 {
			path.WriteString(", ")
		}
		fmt.Fprintf(&path, "%v", formatValue(key[i]))
	}
	path.WriteString("]")
	return Ref{table: t, kind: RefRow, key: k, node: t.s.Root, path: path.String()}, nil
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

func formatValue(v protoreflect.Value) string {
	switch x := v.Interface().(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []byte:
		return fmt.Sprintf("0x%x", x)
	}
	return fmt.Sprint(v.Interface())
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
func (r Ref) String() string { return r.path }

// Field steps into a field stored under its own key: a breakout field, an
// object field or a map.
func (r Ref) Field(num protoreflect.FieldNumber) (Ref, error) {
	if r.node == nil {
		return Ref{}, invalid("%s has no fields to step into", r.path)
	}
	f := r.node.Field(num)
	if f == nil {
		return Ref{}, invalid("%s has no field number %d", r.node.Desc.FullName(), num)
	}
	next := Ref{table: r.table, field: f, path: r.path + "." + string(f.Name())}
	base := r.key[:len(r.key):len(r.key)] // force appends to copy
	switch f.Storage {
	case schema.Breakout:
		next.kind, next.key = RefBreakout, tuple.AppendUnit(base, uint32(num))
	case schema.Object:
		next.kind, next.key, next.node = RefObject, tuple.AppendUnit(base, uint32(num)), f.Child
	case schema.Map:
		next.kind, next.key, next.parentLen = RefMap, tuple.AppendTag(base, uint32(num), f.ElemKind), len(base)
	default:
		return Ref{}, invalid("%s is stored as %s, not under its own key", next.path, f.Storage)
	}
	return next, nil
}

// FieldByName is Field by the field's proto name.
func (r Ref) FieldByName(name string) (Ref, error) {
	if r.node == nil {
		return Ref{}, invalid("%s has no fields to step into", r.path)
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
		return Ref{}, invalid("%s is not a map", r.path)
	}
	f := r.field
	if err := checkKeyValue(f.MapKey, key); err != nil {
		return Ref{}, invalid("%s key: %v", r.path, err)
	}
	k := appendKeyElem(r.key[:r.parentLen:r.parentLen], uint32(f.Number()), f.ElemKind, f.MapKey, key)
	return Ref{table: r.table, kind: RefEntry, key: k, node: f.Child, field: f, parentLen: r.parentLen, path: fmt.Sprintf("%s[%s]", r.path, formatValue(key))}, nil
}
