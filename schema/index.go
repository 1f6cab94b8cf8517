package schema

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// IndexPrefix is the first byte of every table index entry's key (relative
// to the DB's namespace): 0x01, reserved for secondary indexes.
const IndexPrefix = 0x01

// IndexElem is the field number of the unit element that starts the
// map-scoped index entries under the object holding the indexed map:
// protobuf's first reserved field number, which no field may use, so the
// element collides with no field, map entry or breakout of the object.
const IndexElem = uint32(protowire.FirstReservedNumber)

// Index is a secondary index, declared on a table (over fields of the row)
// or on a map field whose values are messages (over fields of the entry
// values: map-scoped, stored under the object holding the map).
//
// Key layout (docs/key-layout.md), with ⟨v…⟩ the indexed values, one
// element per column, and ⟨pk…⟩ the row's key columns as in the row key:
//
//	table, not unique:  0x01 ⟨T⟩ ⟨id⟩ ⟨v…⟩ ⟨pk…⟩          → empty
//	table, unique:      0x01 ⟨T⟩ ⟨id⟩ ⟨v…⟩                → ⟨pk…⟩
//	map, not unique:    owner ⟨19000⟩ ⟨f⟩ ⟨id⟩ ⟨v…⟩ ⟨k⟩    → empty
//	map, unique:        owner ⟨19000⟩ ⟨f⟩ ⟨id⟩ ⟨v…⟩        → ⟨k⟩
//
// where ⟨T⟩, ⟨id⟩, ⟨19000⟩ and ⟨f⟩ (the map's field number) are unit
// elements, owner is the key of the object holding map field f, and ⟨k⟩ the
// entry's key element exactly as under owner (the map's tag and key). So
// the target's key comes from the index key (or value) without parsing any
// row, and a map-scoped index lies inside its owner's key range: deleting
// or replacing the owner deletes its entries with it.
//
// An Index is immutable and safe for concurrent use.
type Index struct {
	// Name is the declared name, unique among the indexes of its scope.
	Name string
	// ID is the declared id, unique among the indexes of its scope; it is
	// part of every entry key.
	ID uint32
	// Table is the table the index belongs to.
	Table *Table
	// Map is the indexed map field of a map-scoped index; nil for a table
	// index.
	Map *Field
	// Node is the layout of the indexed messages: Table.Root, or Map.Child.
	Node *Node
	// Columns are the indexed fields in key order.
	Columns []*IndexColumn
	// Unique is set when each combination of values may be held by one
	// row or entry only.
	Unique bool
	// Repeated is the position in Columns of the repeated column (one entry
	// per element), or -1.
	Repeated int
}

// IndexColumn is one indexed field.
type IndexColumn struct {
	// Field is the indexed field of Index.Node.
	Field *Field
	// Column encodes the field's values as key elements: element number =
	// the field number, with the descending bit when declared descending.
	// For a repeated field it encodes one element of the list.
	Column *Column
}

// Path returns the symbolic name of the index, such as "User.by_email" or
// "Notebook.notes.by_done".
func (x *Index) Path() string {
	if x.Map == nil {
		return string(x.Table.Desc.Name()) + "." + x.Name
	}
	return x.Map.Path() + "." + x.Name
}

// Scope returns the stable identity of the index's scope: the table id,
// then for a map-scoped index the field numbers from the row down to the
// map field. With ID it identifies the index across schema versions.
func (x *Index) Scope() []uint32 {
	s := []uint32{x.Table.ID}
	if x.Map == nil {
		return s
	}
	var nums []uint32
	for f := x.Map; f != nil; {
		nums = append(nums, uint32(f.Number()))
		p := f.Parent.Parent
		if p == nil {
			break
		}
		f = p
	}
	for i := len(nums) - 1; i >= 0; i-- {
		s = append(s, nums[i])
	}
	return s
}

// AppendPrefix appends the prefix of every entry of the index. For a table
// index it is 0x01 ⟨T⟩ ⟨id⟩ and owner is ignored (the caller prepends the
// DB's namespace); for a map-scoped index it is owner ⟨19000⟩ ⟨f⟩ ⟨id⟩,
// owner being the (store) key of the object holding the map.
func (x *Index) AppendPrefix(b, owner []byte) []byte {
	if x.Map == nil {
		b = append(b, IndexPrefix)
		b = tuple.AppendUnit(b, x.Table.ID)
		return tuple.AppendUnit(b, x.ID)
	}
	b = append(b, owner...)
	b = tuple.AppendUnit(b, IndexElem)
	b = tuple.AppendUnit(b, uint32(x.Map.Number()))
	return tuple.AppendUnit(b, x.ID)
}

// AppendScopePrefix appends the prefix of every map-scoped index entry
// (of any map and index) under owner: owner ⟨19000⟩.
func AppendScopePrefix(b, owner []byte) []byte {
	return tuple.AppendUnit(append(b, owner...), IndexElem)
}

// AppendValues appends the value elements ⟨v…⟩ of one entry: vals holds
// one value per column, of the column field's element type (for the
// repeated column, one element of the list).
func (x *Index) AppendValues(b []byte, vals []protoreflect.Value) []byte {
	for i, c := range x.Columns {
		b = c.Column.Append(b, vals[i])
	}
	return b
}

// Target returns the part of a row or map entry key that an entry
// carries: the key columns of a row key (the key after the table element)
// or the last element of a map entry key (its key element under the
// owner). For a map-scoped index, owner is the length of the owner's key.
func (x *Index) Target(key []byte, owner int) []byte {
	if x.Map == nil {
		n, _ := tuple.SkipElement(key)
		return key[n:]
	}
	return key[owner:]
}

// Entry appends the key of one entry to b (which must start with the
// index's prefix, see AppendPrefix) and returns it with the entry's value:
// for a non-unique index the key gets target appended and the value is
// empty; for a unique index the value is target.
func (x *Index) Entry(b []byte, vals []protoreflect.Value, target []byte) (key, value []byte) {
	b = x.AppendValues(b, vals)
	if x.Unique {
		return b, target
	}
	return append(b, target...), nil
}

// Values returns every combination of indexed values that m, a message of
// Node's type, holds: one for an index without a repeated column, one per
// distinct element for one with a repeated column (none when the list is
// empty). A field without presence (a plain proto3 scalar) indexes its
// value, the default when unset, as a read returns it; a field with
// presence (proto3 optional, proto2, oneof member) that is unset gives no
// entry, like NULL in SQL, so a unique index holds any number of rows
// without the value. The slices are fresh.
func (x *Index) Values(m protoreflect.Message) [][]protoreflect.Value {
	base, ok := x.baseValues(make([]protoreflect.Value, len(x.Columns)), m)
	if !ok {
		return nil
	}
	if x.Repeated < 0 {
		return [][]protoreflect.Value{base}
	}
	list := m.Get(x.Columns[x.Repeated].Field.Desc).List()
	out := make([][]protoreflect.Value, 0, list.Len())
	seen := make(map[string]bool, list.Len())
	col := x.Columns[x.Repeated].Column
	for i := range list.Len() {
		el := list.Get(i)
		k := string(col.Append(nil, el))
		if seen[k] {
			continue
		}
		seen[k] = true
		vals := append([]protoreflect.Value(nil), base...)
		vals[x.Repeated] = el
		out = append(out, vals)
	}
	return out
}

// Keys returns the entries (key, value) that m, stored at key, owns in the
// index: key is the row key (with the DB's namespace prefix ns) for a table
// index, the map entry key for a map-scoped one, whose owner's key is
// key[:owner]. Keys are fresh slices, sorted and distinct.
func (x *Index) Keys(ns, key []byte, owner int, m protoreflect.Message) [][2][]byte {
	var pb [64]byte // the prefix, on the stack when it fits
	var prefix, target []byte
	if x.Map == nil {
		prefix = x.AppendPrefix(append(pb[:0], ns...), nil)
		target = x.Target(key[len(ns):], 0)
	} else {
		prefix = x.AppendPrefix(pb[:0], key[:owner])
		target = x.Target(key, owner)
	}
	if x.Repeated < 0 {
		// At most one entry (the common index): its values on the stack,
		// its key and value in one allocation.
		var vb [8]protoreflect.Value
		vals := vb[:]
		if len(x.Columns) > len(vb) {
			vals = make([]protoreflect.Value, len(x.Columns))
		}
		vals, ok := x.baseValues(vals[:len(x.Columns)], m)
		if !ok {
			return [][2][]byte{}
		}
		return [][2][]byte{x.entryPair(prefix, vals, target)}
	}
	combos := x.Values(m)
	out := make([][2][]byte, 0, len(combos))
	for _, vals := range combos {
		out = append(out, x.entryPair(prefix, vals, target))
	}
	return out
}

// baseValues sets vals[i], for each column i but the repeated one, to m's
// value of the column's field; ok is false when a field with presence is
// unset (m has no entry).
func (x *Index) baseValues(vals []protoreflect.Value, m protoreflect.Message) (_ []protoreflect.Value, ok bool) {
	for i, c := range x.Columns {
		fd := c.Field.Desc
		if i == x.Repeated {
			continue
		}
		if fd.HasPresence() && !m.Has(fd) {
			return nil, false
		}
		vals[i] = m.Get(fd)
	}
	return vals, true
}

// entryPair returns the key and value of the entry of vals (Entry), fresh:
// both cut from one new buffer, each capped at its length so that
// appending to one does not write over the other.
func (x *Index) entryPair(prefix []byte, vals []protoreflect.Value, target []byte) [2][]byte {
	b := append(make([]byte, 0, len(prefix)+32+2*len(target)), prefix...)
	k, v := x.Entry(b, vals, target)
	if !x.Unique {
		return [2][]byte{k[:len(k):len(k)], nil}
	}
	n := len(k)
	b = append(k, v...)
	return [2][]byte{b[:n:n], b[n:len(b):len(b)]}
}

// DecodeEntry decodes one entry: rest is the entry's key after the index's
// prefix, value its value. It returns the indexed values (one per column)
// and the target: the key columns of the row (append them to the table's
// prefix for the row key) or the map entry's key element (append it to
// the owner's key). It checks every element against the index's columns;
// errors wrap ErrKeyValue and never panic on bad bytes.
func (x *Index) DecodeEntry(rest, value []byte) ([]protoreflect.Value, []byte, error) {
	vals := make([]protoreflect.Value, len(x.Columns))
	for i, c := range x.Columns {
		v, n, err := c.Column.Decode(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: column %s: %w", x.Path(), c.Column.Name(), err)
		}
		vals[i], rest = v, rest[n:]
	}
	target := rest
	if x.Unique {
		if len(rest) != 0 {
			return nil, nil, fmt.Errorf("%w: index %s: %d bytes after the values of a unique entry", ErrKeyValue, x.Path(), len(rest))
		}
		target = value
	} else if len(value) != 0 {
		return nil, nil, fmt.Errorf("%w: index %s: entry has a %d-byte value, want empty", ErrKeyValue, x.Path(), len(value))
	}
	if err := x.checkTarget(target); err != nil {
		return nil, nil, err
	}
	return vals, target, nil
}

// checkTarget checks that t is a complete target: the table's key columns,
// or one key element of the map.
func (x *Index) checkTarget(t []byte) error {
	cols := x.Table.Key
	if x.Map != nil {
		cols = []*Column{x.Map.Key}
	}
	for _, c := range cols {
		n, err := c.Skip(t)
		if err != nil {
			return fmt.Errorf("index %s: target: %w", x.Path(), err)
		}
		t = t[n:]
	}
	if len(t) != 0 {
		return fmt.Errorf("%w: index %s: %d bytes after the target key", ErrKeyValue, x.Path(), len(t))
	}
	return nil
}

// Index returns the table index named name, or nil.
func (t *Table) Index(name string) *Index {
	for _, x := range t.Indexes {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// IndexByID returns the table index with id, or nil.
func (t *Table) IndexByID(id uint32) *Index {
	for _, x := range t.Indexes {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// Index returns the map-scoped index of f named name, or nil.
func (f *Field) Index(name string) *Index {
	for _, x := range f.Indexes {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// IndexByID returns the map-scoped index of f with id, or nil.
func (f *Field) IndexByID(id uint32) *Index {
	for _, x := range f.Indexes {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// RowKeyOf appends the key of the row m (a message of the table's type) to
// a copy of ns, the DB's namespace prefix: the table element and m's key
// column values.
func (t *Table) RowKeyOf(ns []byte, m protoreflect.Message) []byte {
	k := t.AppendPrefix(bytes.Clone(ns))
	for _, c := range t.Key {
		k = c.Append(k, m.Get(c.Field))
	}
	return k
}

// Signature describes what an index's entries hold: its columns (field
// number and direction) and uniqueness. Two indexes with the same scope and
// id must have the same signature, or stored entries would be misread.
func (x *Index) Signature() string {
	var sb strings.Builder
	for i, c := range x.Columns {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%d:%s", c.Column.Num, c.Column.Kind)
	}
	if x.Unique {
		sb.WriteString(" unique")
	}
	return sb.String()
}

// IndexID is the stable identity of an index: its scope and id, the same
// in every schema version in which the index exists.
func (x *Index) IndexID() string { return string(x.AppendIndexID(nil)) }

// AppendIndexID appends the bytes of IndexID to b; for a table index it
// allocates nothing when b has room (the scope is the table id alone).
func (x *Index) AppendIndexID(b []byte) []byte {
	if x.Map == nil {
		b = tuple.AppendUnit(b, x.Table.ID)
	} else {
		for _, n := range x.Scope() {
			b = tuple.AppendUnit(b, n)
		}
	}
	return tuple.AppendUnit(b, x.ID)
}

// IndexesByID returns every index of the catalog by IndexID.
func (c *Catalog) IndexesByID() map[string]*Index {
	out := map[string]*Index{}
	for _, t := range c.Tables {
		for _, x := range t.AllIndexes {
			out[x.IndexID()] = x
		}
	}
	return out
}

// compareIndexes refuses an index whose id (in its scope) now holds other
// columns or another uniqueness: its stored entries would be misread.
// Renaming, adding and dropping indexes are accepted.
func compareIndexes(stored, next *Catalog) []error {
	var errs []error
	now := next.IndexesByID()
	for id, ox := range stored.IndexesByID() {
		nx := now[id]
		if nx == nil || nx.Signature() == ox.Signature() {
			continue
		}
		errs = append(errs, incompatible("index %s (id %d) had fields (%s) and now has (%s) (under the name %s): its stored entries would be misread; declare the changed index with a new id and name (the old one is then dropped and the new one built)",
			ox.Path(), ox.ID, ox.Signature(), nx.Signature(), nx.Name))
	}
	return errs
}
