package schema

import (
	"errors"
	"fmt"
	"strings"

	"github.com/protoql/protoql/tuple"
)

// ErrUnresolved is wrapped by Resolve's errors: a key that no path of the
// catalog's key layout produces.
var ErrUnresolved = errors.New("schema: key does not resolve")

// Location is where a stored key sits in the key layout: the table, the
// key elements on the way, and what the pair's value holds.
type Location struct {
	// Table is the table the key belongs to.
	Table *Table
	// Elems are the key's elements, the table element first.
	Elems []tuple.Element
	// Fields holds, for each element after the row key, the field it
	// steps into (breakout, object or map).
	Fields []*Field
	// RowLen is the length in bytes of the row's key, a prefix of the key.
	RowLen int
	// Node is the message whose inline fields the value holds: the row, an
	// object or a message map entry. Nil when Leaf is set.
	Node *Node
	// Leaf is set when the value holds a single field: a breakout field
	// (the field with its own tag) or a scalar map entry (the entry's field
	// 2).
	Leaf *Field
}

// Resolve walks key through the catalog's key layout, the trie step by
// step (docs/key-layout.md): it decodes every element and checks that it
// names a table, the table's key columns with their kinds, and then fields
// stored under their own keys. It does not read the value or convert key
// elements to field values.
func (c *Catalog) Resolve(key []byte) (*Location, error) {
	elems, lens, err := DecodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnresolved, err)
	}
	if len(elems) == 0 || elems[0].Kind != tuple.KindUnit {
		return nil, fmt.Errorf("%w: does not start with a table element", ErrUnresolved)
	}
	t := c.Table(elems[0].Field)
	if t == nil {
		return nil, fmt.Errorf("%w: no table %d in the schema", ErrUnresolved, elems[0].Field)
	}
	if len(elems) < 1+len(t.Key) {
		return nil, fmt.Errorf("%w: %s has %d key columns, the key has %d", ErrUnresolved, t.Desc.Name(), len(t.Key), len(elems)-1)
	}
	for i, col := range t.Key {
		if elems[1+i].Field != uint32(col.Field.Number()) || elems[1+i].Kind != col.Kind {
			return nil, fmt.Errorf("%w: key column %d of %s is %s, want field %d of kind %s",
				ErrUnresolved, i+1, t.Desc.Name(), elems[1+i], col.Field.Number(), col.Kind)
		}
	}
	loc := &Location{Table: t, Elems: elems, RowLen: lens[len(t.Key)], Node: t.Root}
	return loc, loc.descend(elems[1+len(t.Key):])
}

// descend follows the elements below the row key.
func (l *Location) descend(elems []tuple.Element) error {
	for i, e := range elems {
		f := l.Node.Child(e.Field, e.Kind)
		if f == nil {
			return fmt.Errorf("%w: no field %d of key kind %s is stored under %s", ErrUnresolved, e.Field, e.Kind, l.Node.Desc.FullName())
		}
		l.Fields = append(l.Fields, f)
		if f.Child == nil { // breakout field or scalar map entry
			if i != len(elems)-1 {
				return fmt.Errorf("%w: %s holds no keys below it", ErrUnresolved, f.Path())
			}
			l.Node, l.Leaf = nil, f
			return nil
		}
		l.Node = f.Child
	}
	return nil
}

// String renders the location as a symbolic path, such as
// `User["alice"].sessions["s1"]`.
func (l *Location) String() string {
	var b strings.Builder
	b.WriteString(string(l.Table.Desc.Name()))
	var cols []string
	for _, e := range l.Elems[1 : 1+len(l.Table.Key)] {
		cols = append(cols, payloadText(e))
	}
	if len(cols) > 0 {
		b.WriteString("[" + strings.Join(cols, ", ") + "]")
	}
	for i, f := range l.Fields {
		b.WriteString("." + string(f.Name()))
		if f.Storage == Map {
			b.WriteString("[" + payloadText(l.Elems[1+len(l.Table.Key)+i]) + "]")
		}
	}
	return b.String()
}

// payloadText is an element's value without its field number.
func payloadText(e tuple.Element) string {
	s := e.String()
	if _, v, ok := strings.Cut(s, ":"); ok {
		return v
	}
	return s
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
