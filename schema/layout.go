package schema

import (
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Storage says where a field's data lives.
type Storage uint8

// The storage classes of DESIGN.md §2.
const (
	// Inline fields are encoded in the parent's value.
	Inline Storage = iota
	// KeyColumn fields are primary-key columns: encoded in the row key, not
	// repeated in the value.
	KeyColumn
	// Breakout fields have their own key whose value is the field encoded
	// with its tag.
	Breakout
	// Object fields have their own key and are decomposed like a row.
	Object
	// Map fields have one key per entry.
	Map
	// Join fields are not stored; queries follow them into another table.
	Join
)

var storageNames = [...]string{"inline", "key", "breakout", "object", "map", "join"}

// String returns the storage class's name as used in messages.
func (s Storage) String() string {
	if int(s) < len(storageNames) {
		return storageNames[s]
	}
	return "storage(?)"
}

// Table is a message annotated with (protoql.v1.table).
type Table struct {
	// ID is the table id, the field number of the first key element.
	ID uint32
	// Desc is the row message.
	Desc protoreflect.MessageDescriptor
	// Key lists the primary-key columns in key order.
	Key []*Column
	// Root is the layout of the row.
	Root *Node
	// Apart lists the row's fields stored apart (Field.Apart), in
	// field-number order.
	Apart []*Field
	// Indexes lists the table's indexes in declaration order.
	Indexes []*Index
	// AllIndexes lists every index whose entries depend on the table's
	// rows: the table's, then the map-scoped ones at any depth, in layout
	// order.
	AllIndexes []*Index
}

// Name returns the row message's full name.
func (t *Table) Name() protoreflect.FullName { return t.Desc.FullName() }

// AppendPrefix appends the table's element, which starts the key of
// every row of the table.
func (t *Table) AppendPrefix(b []byte) []byte { return tuple.AppendUnit(b, t.ID) }

// AppendApartPrefix appends the element that starts the key of every pair
// of field f, a field of the table stored apart: an unsigned element of
// field number the table id holding f's number. It sorts after every row
// of the table (whose element is a unit one of the same number) and before
// the next table, so no row scan of the table visits it.
func (t *Table) AppendApartPrefix(b []byte, f *Field) []byte {
	return tuple.AppendUint(b, t.ID, tuple.Asc, uint64(f.Number()))
}

// TableID returns the table id a key of a table starts with (a unit
// element for the rows, an unsigned one for a field stored apart), and
// whether it starts with one.
func TableID(key []byte) (uint32, bool) {
	e, _, err := tuple.DecodeElement(key)
	if err != nil || (e.Kind != tuple.KindUnit && e.Kind != tuple.KindUint) {
		return 0, false
	}
	return e.Field, true
}

// Node is the layout of one stored message at one place in a table.
type Node struct {
	// Desc is the stored message.
	Desc protoreflect.MessageDescriptor
	// Table is the table the node belongs to.
	Table *Table
	// Parent is the field the node is stored under; nil for a row.
	Parent *Field
	// Fields lists every field of Desc, in descriptor order.
	Fields []*Field
	// Inline lists the fields encoded in the node's own value, in
	// descriptor order (for a row, key columns are not among them).
	Inline []*Field
	// Children lists the fields stored under their own keys (breakout,
	// object, map), in field-number order.
	Children []*Field
	// Joins lists the join fields.
	Joins []*Field
	// IndexedMaps lists the map fields of the node that have map-scoped
	// indexes (whose entries live under the node's key), in field-number
	// order.
	IndexedMaps []*Field
	// HoldsIndexes is set when the node or a node below it has
	// IndexedMaps: writing the node's subtree writes index entries.
	HoldsIndexes bool

	byNumber map[protoreflect.FieldNumber]*Field
	// low holds byNumber's fields numbered below len(low) (at most
	// maxLowField) by number: the reads look a field up for every key and
	// every field of a value, and a slice index costs a fraction of a map
	// lookup.
	low []*Field
}

// maxLowField bounds Node.low: field numbers from 1 to 63 take one byte
// in a tag, and protoc assigns the low ones first.
const maxLowField = 64

// Field returns the field with number n, or nil.
func (n *Node) Field(num protoreflect.FieldNumber) *Field {
	if uint64(num) < uint64(len(n.low)) {
		return n.low[num]
	}
	return n.byNumber[num]
}

// Child returns the field stored under a child key element with this tag,
// or nil when no such element can appear under the node: this is the trie
// step from a key element to the schema.
func (n *Node) Child(num uint32, k tuple.Kind) *Field {
	f := n.Field(protoreflect.FieldNumber(num))
	if f == nil || f.ElemKind != k {
		return nil
	}
	switch f.Storage {
	case Breakout, Object, Map:
		return f
	}
	return nil
}

// Path returns the symbolic path of the node from its table, such as
// "User.sessions[]".
func (n *Node) Path() string {
	if n.Parent == nil {
		return string(n.Table.Desc.Name())
	}
	return n.Parent.Path()
}

// Field is one field of a stored message and where it lives.
type Field struct {
	// Desc is the field.
	Desc protoreflect.FieldDescriptor
	// Storage says where the field's data lives.
	Storage Storage
	// Parent is the node holding the field.
	Parent *Node
	// ElemKind is the tuple kind of the field's key element: KindUnit for
	// breakout and object fields, the map key's kind (with the descending
	// bit) for maps.
	ElemKind tuple.Kind
	// Child is the layout of an object field's message or a map's message
	// values; nil otherwise (scalar maps, inline, breakout, join).
	Child *Node
	// MapKey and MapValue are the map entry's key and value fields.
	MapKey, MapValue protoreflect.FieldDescriptor
	// Key is a map's key column: its entries' elements are Key's, under
	// the holding object's key. Nil for other fields.
	Key *Column
	// Join is set for join fields.
	Join *JoinSpec
	// Apart is set for a map or object field of a row stored apart from
	// the row: its keys are the row's with the table element replaced by
	// the table's apart element for the field (Table.AppendApartPrefix),
	// so they sort outside the table's row range. Below that first element
	// the key is the colocated one: row key columns, the field's element,
	// and so on.
	Apart bool
	// Indexes lists a map field's map-scoped indexes in declaration order.
	Indexes []*Index
	// elem is AppendElem's element, encoded once when the layout is built
	// (a handle stepping into the field appends it on every call).
	elem []byte
	// valueKind is ValueKind's answer, found when the layout is built.
	valueKind protoreflect.Kind
}

// ValueKind returns the kind of the one scalar value the field keeps
// under a key of its own — a breakout field's value, or a scalar map's
// entry value — or 0 for any other field (an inline, object or join
// field, a message map, a repeated or message-valued breakout field).
// A handle's setter checks and encodes a value by it, without asking the
// field's descriptor on every write.
func (f *Field) ValueKind() protoreflect.Kind { return f.valueKind }

// scalarValueKind is ValueKind of f, worked out from its descriptors.
func scalarValueKind(f *Field) protoreflect.Kind {
	var fd protoreflect.FieldDescriptor
	switch {
	case f.Storage == Breakout:
		fd = f.Desc
	case f.Storage == Map && f.Child == nil && f.MapValue != nil:
		fd = f.MapValue
	default:
		return 0
	}
	if fd.Cardinality() == protoreflect.Repeated || fd.Message() != nil {
		return 0
	}
	return fd.Kind()
}

// AppendElem appends the field's element under its parent's key: a unit
// element for a breakout or object field, the map's tag (the prefix of its
// entries' elements, see Key) for a map. It appends nothing for fields
// not stored under their own key.
func (f *Field) AppendElem(b []byte) []byte {
	if f.elem != nil {
		return append(b, f.elem...)
	}
	return f.appendElem(b)
}

// appendElem is AppendElem, encoding the element.
func (f *Field) appendElem(b []byte) []byte {
	switch f.Storage {
	case Breakout, Object:
		return tuple.AppendUnit(b, uint32(f.Number()))
	case Map:
		return f.Key.AppendTag(b)
	}
	return b
}

// Number returns the field number.
func (f *Field) Number() protoreflect.FieldNumber { return f.Desc.Number() }

// Name returns the field's proto name.
func (f *Field) Name() protoreflect.Name { return f.Desc.Name() }

// Path returns the symbolic path of the field, such as "User.sessions".
func (f *Field) Path() string {
	p := f.Parent.Path()
	if f.Parent.Parent != nil && f.Parent.Parent.Storage == Map {
		p += "[]"
	}
	return p + "." + string(f.Desc.Name())
}

// JoinSpec is a resolved join: the target table and where each of its key
// columns comes from.
type JoinSpec struct {
	// Target is the joined table.
	Target *Table
	// Sources has one entry per key column of Target.
	Sources []JoinSource
}

// JoinSource is where one key column of a join target comes from: the key
// of an enclosing map entry (Map set) or an inline field of the message
// holding the join (Field set).
type JoinSource struct {
	Map   *Field
	Field protoreflect.FieldDescriptor
}
