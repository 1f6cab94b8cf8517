package query

import (
	"slices"
	"strings"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checker checks an AST against a catalog and builds its Plan. It stops
// at the first error: each names its position and what was expected.
type checker struct {
	cat  *schema.Catalog
	plan *Plan
	// fp accumulates the canonical text the fingerprint hashes.
	fp []byte
	// afters are literal after: cursors, checked once the fingerprint is
	// known.
	afters []*Access
	// site is where the literal being typed is used, rendered only in
	// errors.
	site site
	// vars indexes plan.Vars by name once there are many, so checking
	// stays linear in a query with thousands of variables.
	vars map[string]*Var
}

func (c *checker) check(ast *AST) error {
	sel := ast.Root
	if len(sel.Name) > 256 && !c.hasTableNamed(sel.Name) {
		// Not even looked up: Lookup's error would quote all of it.
		return c.unknownTable(sel)
	}
	var ix *schema.Index
	t, err := c.cat.Lookup(sel.Name)
	if err != nil {
		if t, ix, err = c.rootIndex(sel); err != nil {
			return err
		}
	}
	p := c.plan
	p.Table, p.Alias = t, sel.Alias
	c.fp = append(c.fp, t.Desc.FullName()...)
	cols, base := t.Key, string(t.Desc.Name())
	if ix != nil {
		c.fp = append(append(c.fp, '.'), ix.Name...)
		cols, base = indexCols(ix), base+"."+ix.Name
	}
	p.Root, err = c.access(sel, cols, nil, ix, base)
	if err != nil {
		return err
	}
	p.Proj, err = c.project(t.Root, sel.Sub, p.Root.Path)
	return err
}

// hasTableNamed reports whether a table's short or full name is name.
func (c *checker) hasTableNamed(name string) bool {
	for _, t := range c.cat.Tables {
		if string(t.Desc.Name()) == name || string(t.Desc.FullName()) == name {
			return true
		}
	}
	return false
}

func (c *checker) unknownTable(sel *Selection) error {
	var names, same []string
	for _, t := range c.cat.Tables {
		names = append(names, string(t.Desc.Name()))
		if string(t.Desc.Name()) == sel.Name {
			same = append(same, string(t.Desc.FullName()))
		}
	}
	if len(same) > 1 {
		return invalidf(sel.Pos, "table name %s is ambiguous: use one of %s", quote(sel.Name), strings.Join(same, ", "))
	}
	return invalidf(sel.Pos, "unknown table %s%s", quote(sel.Name), suggest(sel.Name, names))
}

// project checks the selection sub of an object with layout n.
func (c *checker) project(n *schema.Node, sub *SubSelect, path string) (*Proj, error) {
	p := &Proj{Node: n, Path: path}
	if sub == nil {
		p.All = true
		return p, nil
	}
	if len(sub.Fields) == 0 {
		return nil, invalidf(sub.Pos, "empty selection {}: select at least one field of %s, or drop the braces to select all of it", n.Desc.Name())
	}
	c.fp = append(c.fp, '{')
	selected := make([]*Selection, 0, len(sub.Fields))
	for _, f := range sub.Fields {
		fd := n.Desc.Fields().ByName(protoreflect.Name(f.Name))
		if fd == nil {
			sf, ix, err := c.mapIndex(n, f)
			if err != nil {
				return nil, err
			}
			if sf == nil {
				return nil, invalidf(f.Pos, "unknown field %s in %s%s", quote(f.Name), n.Desc.FullName(), suggest(f.Name, fieldNames(n.Desc)))
			}
			if err := c.selectOnce(selected, f, sf.Name()); err != nil {
				return nil, err
			}
			selected = append(selected, f)
			c.fp = append(append(c.fp, f.Name...), ' ')
			if err := c.mapField(p, sf, ix, f); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.selectOnce(selected, f, fd.Name()); err != nil {
			return nil, err
		}
		selected = append(selected, f)
		c.fp = append(append(c.fp, f.Name...), ' ')
		if err := c.field(p, n.Field(fd.Number()), f); err != nil {
			return nil, err
		}
	}
	c.fp = append(c.fp, '}')
	c.finish(p)
	return p, nil
}

// selectOnce refuses a second selection of the field named name (through
// an index or not): a result holds one value per field.
func (c *checker) selectOnce(selected []*Selection, f *Selection, name protoreflect.Name) error {
	for _, prev := range selected {
		if prev.Name == f.Name || fieldOf(prev.Name) == string(name) {
			return invalidf(f.Pos, "field %s is selected twice (first at %d:%d); a result holds one value per field", name, prev.Pos.Line, prev.Pos.Column)
		}
	}
	return nil
}

// fieldOf returns the field name of a selection's name: the part before
// ".index" for a map read through an index.
func fieldOf(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}

// field adds the selection f of field sf to p.
func (c *checker) field(p *Proj, sf *schema.Field, f *Selection) error {
	if sf.Storage != schema.Map {
		if f.Keys != nil {
			return invalidf(f.Keys.Pos, "keys […] select map entries; %s is %s", f.Name, describe(sf))
		}
		if f.Args != nil {
			return invalidf(f.Args.Pos, "arguments (…) apply to the root and to map fields; %s is %s", f.Name, describe(sf))
		}
	}
	switch sf.Storage {
	case schema.KeyColumn, schema.Inline, schema.Breakout:
		if f.Sub != nil {
			return c.scalarSub(sf, f)
		}
		switch sf.Storage {
		case schema.Inline:
			p.Inline = append(p.Inline, sf)
		case schema.Breakout:
			ch := &Child{Field: sf, Alias: f.Alias, Pos: f.Pos, Elem: sf.AppendElem(nil)}
			p.Children = append(p.Children, ch)
		}
		return nil
	}
	ch := &Child{Field: sf, Alias: f.Alias, Pos: f.Pos}
	path := p.Path + "." + f.Name
	var err error
	switch sf.Storage {
	case schema.Object:
		ch.Elem = sf.AppendElem(nil)
		ch.Proj, err = c.project(sf.Child, f.Sub, path)
		p.Children = append(p.Children, ch)
	case schema.Map:
		return c.mapField(p, sf, nil, f)
	case schema.Join:
		ch.Target = sf.Join.Target
		ch.Proj, err = c.project(sf.Join.Target.Root, f.Sub, joinPath(sf))
		p.Joins = append(p.Joins, ch)
	}
	return err
}

// mapField adds the selection f of map field sf to p, read through its
// index ix when ix is not nil.
func (c *checker) mapField(p *Proj, sf *schema.Field, ix *schema.Index, f *Selection) error {
	ch := &Child{Field: sf, Alias: f.Alias, Pos: f.Pos, Elem: sf.AppendElem(nil)}
	path := p.Path + "." + f.Name
	var err error
	if f.Keys != nil || f.Args != nil || ix != nil {
		cols := []*schema.Column{sf.Key}
		if ix != nil {
			cols = indexCols(ix)
		}
		if ch.Access, err = c.access(f, cols, sf, ix, path); err != nil {
			return err
		}
		path = ch.Access.Path
	}
	if sf.Child == nil && f.Sub != nil {
		return invalidf(f.Sub.Pos, "%s is %s: its values are scalars, returned whole; drop the {…}", fieldOf(f.Name), typeName(sf.Desc))
	}
	if sf.Child != nil {
		if ch.Access == nil || !ch.Access.Exact() {
			path += "[*]"
		}
		if ch.Proj, err = c.project(sf.Child, f.Sub, path); err != nil {
			return err
		}
	}
	p.Children = append(p.Children, ch)
	return nil
}

func (c *checker) scalarSub(sf *schema.Field, f *Selection) error {
	switch {
	case sf.Desc.Message() == nil || sf.Desc.IsList():
		return invalidf(f.Sub.Pos, "%s is %s; a selection {…} applies to object, map and join fields", f.Name, article(typeName(sf.Desc)))
	case sf.Storage == schema.Breakout:
		return invalidf(f.Sub.Pos, "%s is a breakout field, stored whole under one key and returned whole; drop the {…}", f.Name)
	}
	return invalidf(f.Sub.Pos, "%s is stored inline in %s's value and returned whole; drop the {…}", f.Name, sf.Parent.Desc.Name())
}

// describe says what kind of field sf is, for messages.
func describe(sf *schema.Field) string {
	switch sf.Storage {
	case schema.KeyColumn:
		return "a key column (" + typeName(sf.Desc) + ")"
	case schema.Inline:
		return article(typeName(sf.Desc)) + " stored inline"
	case schema.Breakout:
		return "a breakout field (" + typeName(sf.Desc) + ")"
	case schema.Object:
		return "an object field (" + typeName(sf.Desc) + ")"
	case schema.Join:
		return "a join to " + string(sf.Join.Target.Desc.Name())
	}
	return typeName(sf.Desc)
}

// finish sorts p's fields into key order and records what is skipped and
// which inline fields joins need.
func (c *checker) finish(p *Proj) {
	byNum := func(a, b *schema.Field) int { return int(a.Number()) - int(b.Number()) }
	slices.SortFunc(p.Inline, byNum)
	slices.SortFunc(p.Children, func(a, b *Child) int { return byNum(a.Field, b.Field) })
	if len(p.Inline) > 0 {
		p.keep = make([]protoreflect.FieldNumber, len(p.Inline))
		for i, f := range p.Inline {
			p.keep[i] = f.Number()
		}
	}
	for _, j := range p.Joins {
		p.joinsBelow = true
		for _, src := range j.Field.Join.Sources {
			if src.Field == nil || slices.Contains(p.keep, src.Field.Number()) {
				continue
			}
			// A key column is decoded from the row key and always
			// returned: it is neither read from the value nor hidden.
			sf := p.Node.Field(src.Field.Number())
			if sf.Storage == schema.KeyColumn {
				continue
			}
			p.Hidden = append(p.Hidden, sf)
			p.keep = append(p.keep, src.Field.Number())
		}
	}
	slices.Sort(p.keep)
	if n := len(p.Node.Children) - len(p.Children); n > 0 {
		p.Skipped = make([]*schema.Field, 0, n)
	}
	i := 0
	for _, f := range p.Node.Children {
		if i < len(p.Children) && p.Children[i].Field == f {
			if cp := p.Children[i].Proj; cp != nil && cp.joinsBelow {
				p.joinsBelow = true
			}
			i++
			continue
		}
		p.Skipped = append(p.Skipped, f)
	}
}
