package schema

import (
	"errors"
	"fmt"
	"strings"

	"github.com/protoql/protoql/tuple"
)

// ErrUnresolved is wrapped by Resolve's and Locate's errors: a key that no
// path of the catalog's key layout produces.
var ErrUnresolved = errors.New("schema: key does not resolve")

// Location is where a stored key, or a prefix of one, sits in the key
// layout: the table, the key elements on the way, and what the pair's
// value holds. It is the one key→path resolver: runtime renders Refs and
// verifies pairs with it, the CLI dumps pairs and decodes keys with it.
type Location struct {
	// Table is the table the key belongs to.
	Table *Table
	// Elems are the key's elements, the table element first. Those past
	// Resolved() did not resolve.
	Elems []tuple.Element
	// Cols is the number of key column elements: len(Table.Key) for a key
	// at or below a row, fewer for a prefix of a row key.
	Cols int
	// Fields holds, for each element after the row key that resolved, the
	// field it steps into (breakout, object or map).
	Fields []*Field
	// RowLen is the length in bytes of the row's key, a prefix of the key;
	// set by Resolve when the key has every key column.
	RowLen int
	// Node is the message whose inline fields the value holds: the row, an
	// object or a message map entry. Nil when Leaf is set.
	Node *Node
	// Leaf is set when the value holds a single field: a breakout field
	// (the field with its own tag) or a scalar map entry (the entry's field
	// 2).
	Leaf *Field
	// Apart is set for a key of a field stored apart (Field.Apart): the
	// field its first element names. Such a key's Fields start with it.
	Apart *Field
	// Index is set for an entry of a map-scoped index: Node is then the
	// owner (the object holding the map), Fields end at the owner, and
	// IndexRest is the offset in the key of the entry's first value
	// element (set by Resolve) — see Index.DecodeEntry. Elements from the
	// ⟨19000⟩ element on are not in Resolved().
	Index *Index
	// IndexRest is the offset of an index entry's values in the key.
	IndexRest int
}

// Resolved returns the number of elements that resolved.
func (l *Location) Resolved() int { return 1 + l.Cols + len(l.Fields) }

// Resolve walks key through the catalog's key layout, the trie step by
// step (docs/key-layout.md): it decodes every element and checks that it
// names a table, the table's key columns with their kinds, and then fields
// stored under their own keys. It does not read the value or convert key
// elements to field values. On an error the Location, when not nil, holds
// what resolved before it.
func (c *Catalog) Resolve(key []byte) (*Location, error) {
	elems, lens, err := DecodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnresolved, err)
	}
	loc, err := c.Locate(elems)
	if loc == nil {
		return nil, err
	}
	if err == nil && loc.Apart != nil && len(loc.Fields) == 0 {
		err = fmt.Errorf("%w: a key of %s apart ends before the field's element", ErrUnresolved, loc.Apart.Path())
	}
	if loc.Index != nil {
		loc.IndexRest = lens[loc.Resolved()+2]
	}
	if loc.Cols == len(loc.Table.Key) {
		loc.RowLen = lens[loc.Cols]
	} else if err == nil {
		err = fmt.Errorf("%w: %s has %d key columns, the key has %d", ErrUnresolved, loc.Table.Desc.Name(), len(loc.Table.Key), loc.Cols)
	}
	return loc, err
}

// Locate resolves decoded key elements as far as they go: a prefix of a
// row key is a Location with fewer Cols and no error. The error names the
// first element that does not resolve; the Location, when not nil, holds
// what resolved before it.
func (c *Catalog) Locate(elems []tuple.Element) (*Location, error) {
	if len(elems) == 0 || (elems[0].Kind != tuple.KindUnit && elems[0].Kind != tuple.KindUint) {
		return nil, fmt.Errorf("%w: does not start with a table element", ErrUnresolved)
	}
	t := c.Table(elems[0].Field)
	if t == nil {
		return nil, fmt.Errorf("%w: no table %d in the schema", ErrUnresolved, elems[0].Field)
	}
	loc := &Location{Table: t, Elems: elems}
	if elems[0].Kind == tuple.KindUint {
		if loc.Apart = t.apartField(elems[0].Uint); loc.Apart == nil {
			return nil, fmt.Errorf("%w: %s stores no field %d apart", ErrUnresolved, t.Desc.Name(), elems[0].Uint)
		}
	}
	for i, col := range t.Key {
		if 1+i == len(elems) {
			return loc, nil
		}
		if e := elems[1+i]; e.Field != col.Num || e.Kind != col.Kind {
			return loc, fmt.Errorf("%w: key column %d of %s is %s, want field %d of kind %s",
				ErrUnresolved, i+1, t.Desc.Name(), e, col.Num, col.Kind)
		}
		loc.Cols++
	}
	loc.Node = t.Root
	return loc, loc.descend(elems[1+len(t.Key):])
}

// apartField returns the field of the row stored apart with number num,
// or nil.
func (t *Table) apartField(num uint64) *Field {
	for _, f := range t.Apart {
		if uint64(f.Number()) == num {
			return f
		}
	}
	return nil
}

// descend follows the elements below the row key. Under a row, a field
// stored apart appears only in its own key space, and only there: the
// first element after an apart key's row columns is its field's.
func (l *Location) descend(elems []tuple.Element) error {
	for i, e := range elems {
		if l.Node == nil {
			return fmt.Errorf("%w: %s holds no keys below it", ErrUnresolved, l.Leaf.Path())
		}
		if e.Field == IndexElem && e.Kind == tuple.KindUnit {
			return l.index(elems[i+1:])
		}
		f := l.Node.Child(e.Field, e.Kind)
		if f == nil {
			return fmt.Errorf("%w: no field %d of key kind %s is stored under %s", ErrUnresolved, e.Field, e.Kind, l.Node.Desc.FullName())
		}
		if i == 0 && f != l.Apart {
			if l.Apart != nil {
				return fmt.Errorf("%w: the key space of %s apart holds no field %d", ErrUnresolved, l.Apart.Path(), e.Field)
			}
			if f.Apart {
				return fmt.Errorf("%w: %s is stored apart, not under the row", ErrUnresolved, f.Path())
			}
		}
		l.Fields = append(l.Fields, f)
		l.Node = f.Child
		if f.Child == nil { // breakout field or scalar map entry
			l.Leaf = f
		}
	}
	return nil
}

// index resolves the elements after a ⟨19000⟩ element under l.Node: the
// indexed map's field and the index id, both unit elements.
func (l *Location) index(elems []tuple.Element) error {
	if len(elems) < 2 || elems[0].Kind != tuple.KindUnit || elems[1].Kind != tuple.KindUnit {
		return fmt.Errorf("%w: an index element under %s must be followed by the map field and the index id", ErrUnresolved, l.Node.Desc.FullName())
	}
	for _, f := range l.Node.IndexedMaps {
		if uint32(f.Number()) == elems[0].Field {
			if x := f.IndexByID(elems[1].Field); x != nil {
				l.Index = x
				return nil
			}
			return fmt.Errorf("%w: map %s has no index with id %d", ErrUnresolved, f.Path(), elems[1].Field)
		}
	}
	return fmt.Errorf("%w: %s holds no indexed map with field number %d", ErrUnresolved, l.Node.Desc.FullName(), elems[0].Field)
}

// ResolveIndex resolves the key of a table index entry (relative to the
// DB's namespace): 0x01 ⟨T⟩ ⟨id⟩ then the entry. It returns the index and
// the offset of the entry's values (see Index.DecodeEntry).
func (c *Catalog) ResolveIndex(key []byte) (*Index, int, error) {
	if len(key) == 0 || key[0] != IndexPrefix {
		return nil, 0, fmt.Errorf("%w: not an index key (want first byte 0x01)", ErrUnresolved)
	}
	off := 1
	var ids [2]uint32
	for i := range ids {
		e, n, err := tuple.DecodeElement(key[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("%w: index key: %v", ErrUnresolved, err)
		}
		if e.Kind != tuple.KindUnit {
			return nil, 0, fmt.Errorf("%w: index key: element %s, want a unit element (table, then index id)", ErrUnresolved, e)
		}
		ids[i], off = e.Field, off+n
	}
	t := c.Table(ids[0])
	if t == nil {
		return nil, 0, fmt.Errorf("%w: index key of table %d, which is not in the schema", ErrUnresolved, ids[0])
	}
	x := t.IndexByID(ids[1])
	if x == nil {
		return nil, 0, fmt.Errorf("%w: %s has no index with id %d", ErrUnresolved, t.Desc.Name(), ids[1])
	}
	return x, off, nil
}

// String renders the location as a symbolic path with key values written
// as query literals (see ElemText), such as `User["alice"].sessions["s1"]`;
// a prefix of a row key ends its columns with "…": `Series["cpu", …]`.
func (l *Location) String() string { return l.Format(nil) }

// Format is String with key values rendered by text (nil: ElemText); each
// element given to text is an element of the column.
func (l *Location) Format(text func(c *Column, e tuple.Element) string) string {
	if text == nil {
		text = func(_ *Column, e tuple.Element) string { return ElemText(e) }
	}
	var b strings.Builder
	b.WriteString(string(l.Table.Desc.Name()))
	b.WriteByte('[')
	for i, col := range l.Table.Key[:l.Cols] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(text(col, l.Elems[1+i]))
	}
	if l.Cols < len(l.Table.Key) {
		if l.Cols > 0 {
			b.WriteString(", ")
		}
		b.WriteString("…")
	}
	b.WriteByte(']')
	for i, f := range l.Fields {
		b.WriteString("." + string(f.Name()))
		if f.Storage == Map {
			b.WriteString("[" + text(f.Key, l.Elems[1+l.Cols+i]) + "]")
		}
	}
	return b.String()
}

// DecodeKey decodes every element of key and the length of the key up to
// and including each.
func DecodeKey(key []byte) ([]tuple.Element, []int, error) {
	var elems []tuple.Element
	var lens []int
	for off := 0; off < len(key); {
		e, n, err := tuple.DecodeElement(key[off:])
		if err != nil {
			return nil, nil, err
		}
		off += n
		elems, lens = append(elems, e), append(lens, off)
	}
	return elems, lens, nil
}
