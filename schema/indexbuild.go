package schema

import (
	"slices"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// tableIndexes builds the table's declared indexes over its row layout and
// collects every index of the table, map-scoped ones included.
func (b *builder) tableIndexes() {
	t := b.t
	if t.Root == nil {
		return
	}
	t.Indexes = b.indexes(t.Desc, t.Root, nil, TableOptions(t.Desc).GetIndex())
	t.AllIndexes = append(t.AllIndexes, t.Indexes...)
	collectMapIndexes(t.Root, &t.AllIndexes)
}

// collectMapIndexes appends the map-scoped indexes at and below n and
// sets HoldsIndexes; it reports whether there are any.
func collectMapIndexes(n *Node, out *[]*Index) bool {
	if n == nil {
		return false
	}
	for _, f := range n.Children {
		*out = append(*out, f.Indexes...)
		if collectMapIndexes(f.Child, out) {
			n.HoldsIndexes = true
		}
	}
	n.HoldsIndexes = n.HoldsIndexes || len(n.IndexedMaps) > 0
	return n.HoldsIndexes
}

// mapIndexes builds the map-scoped indexes declared on map field f.
func (b *builder) mapIndexes(f *Field) {
	decl := FieldOptions(f.Desc).GetIndex()
	if len(decl) == 0 {
		return
	}
	for g := f; g != nil; g = g.Parent.Parent {
		if g.Apart {
			b.fail(f.Desc, "index on map %s: a map-scoped index on a map stored apart (or inside a field stored apart) is not supported; keep the map colocated or index the table", f.Name())
			return
		}
	}
	if f.Child == nil {
		b.fail(f.Desc, "index on map %s: the map's values are %s; map-scoped indexes index fields of message values", f.Name(), f.MapValue.Kind())
		return
	}
	f.Indexes = b.indexes(f.Desc, f.Child, f, decl)
	if len(f.Indexes) > 0 {
		f.Parent.IndexedMaps = append(f.Parent.IndexedMaps, f)
	}
}

// indexes validates the declarations decl of indexes over messages with
// layout n (of map field m, nil for a table index); errors land on at.
func (b *builder) indexes(at protoreflect.Descriptor, n *Node, m *Field, decl []*protoqlv1.Index) []*Index {
	var out []*Index
	names := map[string]bool{}
	ids := map[uint32]bool{}
	for _, d := range decl {
		name := d.GetName()
		switch {
		case !validIndexName(name):
			b.fail(at, "index name %q must be an identifier (letters, digits, _; not starting with a digit)", name)
			continue
		case names[name]:
			b.fail(at, "index %q is declared twice", name)
			continue
		case d.GetId() < 1 || d.GetId() > tuple.MaxField:
			b.fail(at, "index %q: id %d must be between 1 and %d", name, d.GetId(), tuple.MaxField)
			continue
		case ids[d.GetId()]:
			b.fail(at, "index %q: id %d is already used by another index of %s; ids must be unique", name, d.GetId(), n.Desc.Name())
			continue
		}
		names[name], ids[d.GetId()] = true, true
		if x := b.index(at, n, m, d); x != nil {
			out = append(out, x)
		}
	}
	return out
}

func validIndexName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// index builds one index, or reports why not and returns nil.
func (b *builder) index(at protoreflect.Descriptor, n *Node, m *Field, d *protoqlv1.Index) *Index {
	x := &Index{Name: d.GetName(), ID: d.GetId(), Table: b.t, Map: m, Node: n, Unique: d.GetUnique(), Repeated: -1}
	if len(d.GetFields()) == 0 {
		b.fail(at, "index %q lists no fields", x.Name)
		return nil
	}
	for _, dn := range d.GetDescending() {
		if !slices.Contains(d.GetFields(), dn) {
			b.fail(at, "index %q: descending field %q is not one of its fields %q", x.Name, dn, d.GetFields())
			return nil
		}
	}
	ok := true
	for _, name := range d.GetFields() {
		c := b.indexColumn(at, n, x, name, slices.Contains(d.GetDescending(), name))
		if c == nil {
			ok = false
			continue
		}
		if c.Field.Desc.IsList() {
			if x.Repeated >= 0 {
				b.fail(at, "index %q: fields %s and %s are both repeated; an index may fan out over one repeated field", x.Name, x.Columns[x.Repeated].Field.Name(), name)
				ok = false
				continue
			}
			x.Repeated = len(x.Columns)
		}
		x.Columns = append(x.Columns, c)
	}
	if !ok {
		return nil
	}
	return x
}

// indexColumn resolves one indexed field name of index x over layout n.
func (b *builder) indexColumn(at protoreflect.Descriptor, n *Node, x *Index, name string, desc bool) *IndexColumn {
	fd := n.Desc.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		b.fail(at, "index %q: %q is not a field of %s", x.Name, name, n.Desc.Name())
		return nil
	}
	for _, c := range x.Columns {
		if c.Field.Desc == fd {
			b.fail(at, "index %q lists field %q twice", x.Name, name)
			return nil
		}
	}
	f := n.Field(fd.Number())
	if fd.IsMap() || fd.Message() != nil {
		b.fail(at, "index %q: field %q is a %s; indexed fields must be scalars or enums (or repeated ones)", x.Name, name, typeName(fd))
		return nil
	}
	col := newColumn(fd, fd.Number(), desc)
	if col == nil {
		b.fail(at, "index %q: field %q has type %s; indexed fields must be string, bytes, bool, enum or an integer type (floating point values are refused, as in keys)", x.Name, name, typeName(fd))
		return nil
	}
	switch f.Storage {
	case Inline, KeyColumn, Breakout:
	default:
		b.fail(at, "index %q: field %q is stored as %s; indexed fields are inline, breakout or key fields", x.Name, name, f.Storage)
		return nil
	}
	return &IndexColumn{Field: f, Column: col}
}
