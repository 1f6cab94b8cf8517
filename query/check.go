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
	// vars indexes the variables by name once there are many, so
	// checking stays linear in a query with thousands of variables.
	vars map[string]*Var
	// s holds the stacks the plan's lists are built on.
	s *scratch
	// nodes are the slabs the plan's nodes and lists are allocated in.
	nodes planNodes
	// names holds the plan's strings (paths, variable sites) end to end:
	// a strings.Builder never changes the bytes it has written, so each
	// string sliced from it stays valid as it grows.
	names strings.Builder
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
		cols, base = c.indexCols(ix), c.concat(base, ".", ix.Name)
	}
	p.Root, err = c.access(sel, cols, nil, ix, base)
	if err != nil {
		return err
	}
	if p.Proj, err = c.project(t.Root, sel.Sub, p.Root.Path); err != nil {
		return err
	}
	p.Accesses = popInto(&c.nodes.accessList, &c.s.accesses, 0)
	p.Vars = popInto(&c.nodes.varList, &c.s.vars, 0)
	return nil
}

// str returns the string written to c.names since mark, its length then.
func (c *checker) str(mark int) string { return c.names.String()[mark:] }

// concat returns a + b + d, kept in c.names.
func (c *checker) concat(a, b, d string) string {
	mark := c.names.Len()
	c.names.WriteString(a)
	c.names.WriteString(b)
	c.names.WriteString(d)
	return c.str(mark)
}

// intern returns b as a string kept in c.names.
func (c *checker) intern(b []byte) string {
	mark := c.names.Len()
	c.names.Write(b)
	return c.str(mark)
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
	p := c.nodes.projs.new()
	p.Node, p.Path = n, path
	if sub == nil {
		p.All = true
		return p, nil
	}
	if len(sub.Fields) == 0 {
		return nil, invalidf(sub.Pos, "empty selection {}: select at least one field of %s, or drop the braces to select all of it", n.Desc.Name())
	}
	c.fp = append(c.fp, '{')
	inline, children, joins := len(c.s.inline), len(c.s.children), len(c.s.joins)
	for i, f := range sub.Fields {
		// Every field before f was checked and selected.
		selected := sub.Fields[:i]
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
			c.fp = append(append(c.fp, f.Name...), ' ')
			if err := c.mapField(p, sf, ix, f); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.selectOnce(selected, f, fd.Name()); err != nil {
			return nil, err
		}
		c.fp = append(append(c.fp, f.Name...), ' ')
		if err := c.field(p, n.Field(fd.Number()), f); err != nil {
			return nil, err
		}
	}
	c.fp = append(c.fp, '}')
	p.Inline = popInto(&c.nodes.fieldList, &c.s.inline, inline)
	p.Children = popInto(&c.nodes.childList, &c.s.children, children)
	p.Joins = popInto(&c.nodes.childList, &c.s.joins, joins)
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
			c.s.inline = append(c.s.inline, sf)
		case schema.Breakout:
			c.s.children = append(c.s.children, c.child(sf, f))
		}
		return nil
	}
	var err error
	switch sf.Storage {
	case schema.Object:
		ch := c.child(sf, f)
		if ch.Proj, err = c.project(sf.Child, f.Sub, c.concat(p.Path, ".", f.Name)); err != nil {
			return err
		}
		c.s.children = append(c.s.children, ch)
	case schema.Map:
		return c.mapField(p, sf, nil, f)
	case schema.Join:
		ch := c.nodes.children.new()
		ch.Field, ch.Alias, ch.Pos, ch.Target = sf, f.Alias, f.Pos, sf.Join.Target
		if ch.Proj, err = c.project(sf.Join.Target.Root, f.Sub, c.joinPath(sf)); err != nil {
			return err
		}
		c.s.joins = append(c.s.joins, ch)
	}
	return nil
}

// child returns the Child of the selection f of field sf, stored under
// its own key element.
func (c *checker) child(sf *schema.Field, f *Selection) *Child {
	ch := c.nodes.children.new()
	ch.Field, ch.Alias, ch.Pos = sf, f.Alias, f.Pos
	c.s.tmp = sf.AppendElem(c.s.tmp[:0])
	ch.Elem = c.nodes.bytes.clone(c.s.tmp)
	return ch
}

// mapField adds the selection f of map field sf to p, read through its
// index ix when ix is not nil.
func (c *checker) mapField(p *Proj, sf *schema.Field, ix *schema.Index, f *Selection) error {
	ch := c.child(sf, f)
	path := c.concat(p.Path, ".", f.Name)
	var err error
	if f.Keys != nil || f.Args != nil || ix != nil {
		var cols []*schema.Column
		if ix != nil {
			cols = c.indexCols(ix)
		} else {
			cols = c.nodes.colList.make(1)
			cols[0] = sf.Key
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
			path = c.concat(path, "[*]", "")
		}
		if ch.Proj, err = c.project(sf.Child, f.Sub, path); err != nil {
			return err
		}
	}
	c.s.children = append(c.s.children, ch)
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
	nums, fields := len(c.s.nums), len(c.s.inline)
	for _, f := range p.Inline {
		c.s.nums = append(c.s.nums, f.Number())
	}
	for _, j := range p.Joins {
		p.joinsBelow = true
		for _, src := range j.Field.Join.Sources {
			if src.Field == nil || slices.Contains(c.s.nums[nums:], src.Field.Number()) {
				continue
			}
			// A key column is decoded from the row key and always
			// returned: it is neither read from the value nor hidden.
			sf := p.Node.Field(src.Field.Number())
			if sf.Storage == schema.KeyColumn {
				continue
			}
			c.s.inline = append(c.s.inline, sf)
			c.s.nums = append(c.s.nums, src.Field.Number())
		}
	}
	p.Hidden = popInto(&c.nodes.fieldList, &c.s.inline, fields)
	p.keep = popInto(&c.nodes.nums, &c.s.nums, nums)
	slices.Sort(p.keep)
	i := 0
	for _, f := range p.Node.Children {
		if i < len(p.Children) && p.Children[i].Field == f {
			if cp := p.Children[i].Proj; cp != nil && cp.joinsBelow {
				p.joinsBelow = true
			}
			i++
			continue
		}
		c.s.inline = append(c.s.inline, f)
	}
	p.Skipped = popInto(&c.nodes.fieldList, &c.s.inline, fields)
}
