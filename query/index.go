package query

import (
	"strings"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Index access. A name may end in ".index": the root `User.by_email`
// reads the rows of User through its index by_email, and the field
// `notes.by_done` the entries of map notes through the map's index
// by_done. The grammar needs nothing new: a name is already a
// dot-separated identifier (for fully qualified table names), so the
// checker, which knows the schema, splits it. A root name that names a
// table is a table, so the split is tried only when it does not.
//
// The access's keys then give values for the index's columns, in order,
// exactly as for primary keys: any prefix, each a point but the last
// given, which may be a range. Each index entry names the row (or map
// entry) it indexes; the executor reads the entries of the range, then
// each one's row (or entry) with the projection.

// splitIndex splits "a.b" at its last dot into the owner's name and the
// index's; ok is false when name has no dot.
func splitIndex(name string) (owner, index string, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// rootIndex resolves a root name of the form "Table.index".
func (c *checker) rootIndex(sel *Selection) (*schema.Table, *schema.Index, error) {
	owner, name, ok := splitIndex(sel.Name)
	if !ok {
		return nil, nil, c.unknownTable(sel)
	}
	t, err := c.cat.Lookup(owner)
	if err != nil {
		return nil, nil, c.unknownTable(sel)
	}
	ix := t.Index(name)
	if ix == nil {
		return nil, nil, invalidf(sel.Pos, "unknown index %s of table %s%s", quote(name), t.Desc.Name(), suggest(name, indexNames(t.Indexes)))
	}
	return t, ix, nil
}

// mapIndex resolves a field name of the form "map.index" in node n: the
// map field and its index.
func (c *checker) mapIndex(n *schema.Node, f *Selection) (*schema.Field, *schema.Index, error) {
	field, name, ok := splitIndex(f.Name)
	if !ok {
		return nil, nil, nil
	}
	fd := n.Desc.Fields().ByName(protoreflect.Name(field))
	if fd == nil {
		return nil, nil, nil
	}
	sf := n.Field(fd.Number())
	if sf.Storage != schema.Map {
		return nil, nil, invalidf(f.Pos, "%s.%s: only tables and map fields have indexes; %s is %s", field, clip(name), field, describe(sf))
	}
	ix := sf.Index(name)
	if ix == nil {
		return nil, nil, invalidf(f.Pos, "unknown index %s of map %s%s", quote(name), sf.Path(), suggest(name, indexNames(sf.Indexes)))
	}
	return sf, ix, nil
}

func indexNames(ixs []*schema.Index) []string {
	names := make([]string, len(ixs))
	for i, ix := range ixs {
		names[i] = ix.Name
	}
	return names
}

// indexCols returns the key columns of index ix, which encode its entries'
// values.
func (c *checker) indexCols(ix *schema.Index) []*schema.Column {
	cols := c.nodes.colList.make(len(ix.Columns))
	for i, col := range ix.Columns {
		cols[i] = col.Column
	}
	return cols
}
