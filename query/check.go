package query

import (
	"slices"
	"strconv"
	"strings"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
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

// site is the key column (or map key) i of an access, as a fmt.Stringer.
type site struct {
	c *checker
	a *Access
	i int
}

func (s *site) String() string { return s.c.where(s.a, s.i) }

func (c *checker) check(ast *AST) error {
	sel := ast.Root
	if len(sel.Name) > 256 && !c.hasTableNamed(sel.Name) {
		// Not even looked up: Lookup's error would quote all of it.
		return c.unknownTable(sel)
	}
	t, err := c.cat.Lookup(sel.Name)
	if err != nil {
		return c.unknownTable(sel)
	}
	p := c.plan
	p.Table, p.Alias = t, sel.Alias
	c.fp = append(c.fp, t.Desc.FullName()...)
	cols := make([]Column, len(t.Key))
	for i, col := range t.Key {
		cols[i] = Column{Field: col.Field, Num: uint32(col.Field.Number()), Kind: col.Kind}
	}
	p.Root, err = c.access(sel, cols, nil, string(t.Desc.Name()))
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

// access checks the keys and arguments of the root (m nil) or of map
// field m, whose key columns are cols.
func (c *checker) access(sel *Selection, cols []Column, m *schema.Field, base string) (*Access, error) {
	a := &Access{ID: len(c.plan.Accesses), Cols: cols, Map: m}
	c.plan.Accesses = append(c.plan.Accesses, a)
	if err := c.keys(sel.Keys, a); err != nil {
		return nil, err
	}
	a.Path = c.keyPath(base, a)
	return a, c.args(sel.Args, a)
}

func (c *checker) where(a *Access, i int) string {
	if a.Map != nil {
		return "key of map " + a.Map.Path()
	}
	return "key column " + string(c.plan.Table.Desc.Name()) + "." + a.Cols[i].Name()
}

func (c *checker) keys(kl *KeyList, a *Access) error {
	if kl == nil {
		return nil
	}
	if n := len(kl.Exprs); n > len(a.Cols) {
		return c.tooManyKeys(kl.Exprs[len(a.Cols)], a, n)
	}
	c.fp = append(c.fp, '[')
	for i, k := range kl.Exprs {
		if i > 0 {
			c.fp = append(c.fp, ',')
		}
		if !k.IsRange() {
			op, err := c.keyOperand(k.Lo, a, i)
			if err != nil {
				return err
			}
			a.Points = append(a.Points, op)
			continue
		}
		if i != len(kl.Exprs)-1 {
			return invalidf(k.Pos, "only the last key given may be a range; %s is followed by %s",
				a.Cols[i].Name(), a.Cols[i+1].Name())
		}
		a.Ranged = true
		var err error
		if k.Lo != nil {
			if a.Lower, err = c.keyOperand(k.Lo, a, i); err != nil {
				return err
			}
		}
		c.fp = append(c.fp, ".."...)
		if hi := k.Upper(); hi != nil {
			if a.Upper, err = c.keyOperand(hi, a, i); err != nil {
				return err
			}
		}
	}
	c.fp = append(c.fp, ']')
	return nil
}

func (c *checker) tooManyKeys(k *KeyExpr, a *Access, n int) error {
	if a.Map != nil {
		return invalidf(k.Pos, "too many keys: map %s has one key, got %d", a.Map.Name(), n)
	}
	t := c.plan.Table
	if len(a.Cols) == 0 {
		return invalidf(k.Pos, "too many keys: %s is a singleton table with no key columns, got %d", t.Desc.Name(), n)
	}
	names := make([]string, len(a.Cols))
	for i, col := range a.Cols {
		names[i] = col.Name()
	}
	return invalidf(k.Pos, "too many keys: %s has %d key column%s (%s), got %d",
		t.Desc.Name(), len(a.Cols), plural(len(a.Cols)), strings.Join(names, ", "), n)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// keyOperand types v by key column i of a.
func (c *checker) keyOperand(v *Value, a *Access, i int) (*Operand, error) {
	fd := a.Cols[i].Field
	if v.Var != nil {
		return c.useVar(v, VarType{Field: fd, Where: c.where(a, i)})
	}
	c.site = site{c, a, i}
	val, err := keyLiteral(v, fd, &c.site)
	if err != nil {
		return nil, err
	}
	op := &Operand{Pos: v.Pos, Value: val}
	c.fp = appendOperand(c.fp, op, a.Cols[i])
	return op, nil
}

// useVar declares or reuses variable $name with type t: every use must
// agree on the type.
func (c *checker) useVar(v *Value, t VarType) (*Operand, error) {
	name := *v.Var
	c.fp = append(append(c.fp, '$'), name...)
	if old := c.lookupVar(name); old != nil {
		if !sameType(old.Type, t) {
			return nil, invalidf(v.Pos, "$%s is used as %s (%s) here but as %s (%s) at %d:%d",
				clip(name), t, t.Where, old.Type, old.Type.Where, old.Pos.Line, old.Pos.Column)
		}
		return &Operand{Pos: v.Pos, Var: old}, nil
	}
	nv := &Var{Name: name, Pos: v.Pos, Type: t, Index: len(c.plan.Vars)}
	c.plan.Vars = append(c.plan.Vars, nv)
	if c.vars != nil {
		c.vars[name] = nv
	}
	return &Operand{Pos: v.Pos, Var: nv}, nil
}

// lookupVar returns the variable named name, or nil.
func (c *checker) lookupVar(name string) *Var {
	const scan = 16 // few variables: a scan beats a map
	if c.vars == nil && len(c.plan.Vars) > scan {
		c.vars = make(map[string]*Var, 2*len(c.plan.Vars))
		for _, v := range c.plan.Vars {
			c.vars[v.Name] = v
		}
	}
	if c.vars != nil {
		return c.vars[name]
	}
	for _, v := range c.plan.Vars {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func sameType(a, b VarType) bool {
	if a.Arg != "" || b.Arg != "" {
		return a.Arg == b.Arg
	}
	if a.Field.Kind() != b.Field.Kind() {
		return false
	}
	return a.Field.Kind() != protoreflect.EnumKind || a.Field.Enum().FullName() == b.Field.Enum().FullName()
}

// args checks first, after and reverse.
func (c *checker) args(al *ArgList, a *Access) error {
	if al == nil {
		return nil
	}
	for _, arg := range al.Args {
		var slot **Operand
		var lit func(*Value) (protoreflect.Value, error)
		switch arg.Name {
		case "first":
			slot, lit = &a.First, firstLiteral
		case "after":
			slot, lit = &a.After, afterLiteral
		case "reverse":
			slot, lit = &a.Reverse, reverseLiteral
		default:
			return invalidf(arg.Pos, "unknown argument %s%s", quote(arg.Name), suggest(arg.Name, argNames))
		}
		if *slot != nil {
			return invalidf(arg.Pos, "argument %s is given twice (first at %d:%d)", arg.Name, (*slot).Pos.Line, (*slot).Pos.Column)
		}
		op, err := c.argOperand(arg, a, lit)
		if err != nil {
			return err
		}
		*slot = op
	}
	if a.After != nil && a.After.Var == nil {
		c.afters = append(c.afters, a)
	}
	return nil
}

func (c *checker) argOperand(arg *Arg, a *Access, lit func(*Value) (protoreflect.Value, error)) (*Operand, error) {
	// first and after do not change what a page position means, so they
	// stay out of the fingerprint: cursors carry over between page sizes.
	counts := arg.Name == "reverse"
	if arg.Value.Var != nil {
		mark := len(c.fp)
		op, err := c.useVar(arg.Value, VarType{Arg: arg.Name, Where: arg.Name + " of " + clipPath(a.Path)})
		if counts {
			c.fp = append(c.fp[:mark], "(reverse:$"+op.Var.Name+")"...)
		} else {
			c.fp = c.fp[:mark]
		}
		return op, err
	}
	v, err := lit(arg.Value)
	if err != nil {
		return nil, err
	}
	if counts {
		c.fp = strconv.AppendBool(append(c.fp, "(reverse:"...), v.Bool())
		c.fp = append(c.fp, ')')
	}
	return &Operand{Pos: arg.Value.Pos, Value: v}, nil
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
			return nil, invalidf(f.Pos, "unknown field %s in %s%s", quote(f.Name), n.Desc.FullName(), suggest(f.Name, fieldNames(n.Desc)))
		}
		for _, prev := range selected {
			if prev.Name == f.Name {
				return nil, invalidf(f.Pos, "field %s is selected twice (first at %d:%d); a result holds one value per field", f.Name, prev.Pos.Line, prev.Pos.Column)
			}
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
	num := uint32(sf.Number())
	switch sf.Storage {
	case schema.KeyColumn, schema.Inline, schema.Breakout:
		if f.Sub != nil {
			return c.scalarSub(sf, f)
		}
		switch sf.Storage {
		case schema.Inline:
			p.Inline = append(p.Inline, sf)
		case schema.Breakout:
			ch := &Child{Field: sf, Alias: f.Alias, Pos: f.Pos, Elem: tuple.AppendUnit(nil, num)}
			p.Children = append(p.Children, ch)
		}
		return nil
	}
	ch := &Child{Field: sf, Alias: f.Alias, Pos: f.Pos}
	path := p.Path + "." + f.Name
	var err error
	switch sf.Storage {
	case schema.Object:
		ch.Elem = tuple.AppendUnit(nil, num)
		ch.Proj, err = c.project(sf.Child, f.Sub, path)
		p.Children = append(p.Children, ch)
	case schema.Map:
		ch.Elem = tuple.AppendTag(nil, num, sf.ElemKind)
		if f.Keys != nil || f.Args != nil {
			col := Column{Field: sf.MapKey, Num: num, Kind: sf.ElemKind}
			if ch.Access, err = c.access(f, []Column{col}, sf, path); err != nil {
				return err
			}
			path = ch.Access.Path
		}
		if sf.Child == nil && f.Sub != nil {
			return invalidf(f.Sub.Pos, "%s is %s: its values are scalars, returned whole; drop the {…}", f.Name, typeName(sf.Desc))
		}
		if sf.Child != nil {
			if ch.Access == nil || !ch.Access.Exact() {
				path += "[*]"
			}
			ch.Proj, err = c.project(sf.Child, f.Sub, path)
		}
		p.Children = append(p.Children, ch)
	case schema.Join:
		ch.Target = sf.Join.Target
		ch.Proj, err = c.project(sf.Join.Target.Root, f.Sub, joinPath(sf))
		p.Joins = append(p.Joins, ch)
	}
	return err
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

// joinPath renders a join's target row as Thread[thread_id=$threads]: the
// target's key columns and where their values come from.
func joinPath(sf *schema.Field) string {
	j := sf.Join
	b := append([]byte(nil), j.Target.Desc.Name()...)
	b = append(b, '[')
	for i, src := range j.Sources {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(append(b, j.Target.Key[i].Field.Name()...), '=')
		if src.Map != nil {
			b = append(append(b, '$'), src.Map.Name()...)
		} else {
			b = append(b, src.Field.Name()...)
		}
	}
	return string(append(b, ']'))
}

// keyPath renders base followed by the keys of a, for symbolic paths:
// [user_id="alice"] at the root, ["s1".."s5"] on a map.
func (c *checker) keyPath(base string, a *Access) string {
	if len(a.Points) == 0 && !a.Ranged {
		return base
	}
	b := make([]byte, 0, len(base)+32)
	b = append(append(b, base...), '[')
	for i, op := range a.Points {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = c.appendCol(b, a, i)
		b = appendOperand(b, op, a.Cols[i])
	}
	if a.Ranged {
		if len(a.Points) > 0 {
			b = append(b, ", "...)
		}
		b = c.appendCol(b, a, len(a.Points))
		if a.Lower != nil {
			b = appendOperand(b, a.Lower, a.Cols[len(a.Points)])
		}
		b = append(b, ".."...)
		if a.Upper != nil {
			b = appendOperand(b, a.Upper, a.Cols[len(a.Points)])
		}
	}
	return string(append(b, ']'))
}

func (c *checker) appendCol(b []byte, a *Access, i int) []byte {
	if a.Map != nil {
		return b
	}
	return append(append(b, a.Cols[i].Name()...), '=')
}

// appendOperand renders an operand as the query would write it.
func appendOperand(b []byte, op *Operand, col Column) []byte {
	if op.Var != nil {
		return append(append(b, '$'), op.Var.Name...)
	}
	return appendValue(b, op.Value, col.Field)
}

func appendValue(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor) []byte {
	switch x := v.Interface().(type) {
	case string:
		return strconv.AppendQuote(b, x)
	case []byte:
		return strconv.AppendQuote(b, string(x))
	case bool:
		return strconv.AppendBool(b, x)
	case protoreflect.EnumNumber:
		if ev := fd.Enum().Values().ByNumber(x); ev != nil {
			return append(b, ev.Name()...)
		}
		return strconv.AppendInt(b, int64(x), 10)
	case int32, int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case uint32, uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	}
	return b
}
