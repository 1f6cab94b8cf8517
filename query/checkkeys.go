package query

import (
	"strconv"
	"strings"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// site is the key column (or map key) i of an access, rendered only for
// an error's message.
type site struct {
	c *checker
	a *Access
	i int
}

func (s site) String() string { return s.c.where(s.a, s.i) }

// access checks the keys and arguments of the root (m nil) or of map
// field m, whose key columns are cols.
func (c *checker) access(sel *Selection, cols []*schema.Column, m *schema.Field, ix *schema.Index, base string) (*Access, error) {
	a := c.nodes.accesses.new()
	a.ID, a.Cols, a.Map, a.Index = len(c.s.accesses), cols, m, ix
	c.s.accesses = append(c.s.accesses, a)
	a.Path = base // for messages until the keys are known
	if err := c.keys(sel.Keys, a); err != nil {
		return nil, err
	}
	a.Path = c.keyPath(base, a)
	return a, c.args(sel.Args, a)
}

// where names key column i of a, for messages and VarType.Where.
func (c *checker) where(a *Access, i int) string {
	mark := c.names.Len()
	if a.Index != nil {
		c.names.WriteString("column ")
		c.names.WriteString(a.Cols[i].Name())
		c.names.WriteString(" of index ")
		c.names.WriteString(a.Index.Path())
		return c.str(mark)
	}
	if a.Map != nil {
		return c.concat("key of map ", a.Map.Path(), "")
	}
	c.names.WriteString("key column ")
	c.names.WriteString(string(c.plan.Table.Desc.Name()))
	c.names.WriteByte('.')
	c.names.WriteString(a.Cols[i].Name())
	return c.str(mark)
}

func (c *checker) keys(kl *KeyList, a *Access) error {
	if kl == nil {
		return nil
	}
	if n := len(kl.Exprs); n > len(a.Cols) {
		return c.tooManyKeys(kl.Exprs[len(a.Cols)], a, n)
	}
	c.fp = append(c.fp, '[')
	points := len(c.s.ops)
	for i, k := range kl.Exprs {
		if i > 0 {
			c.fp = append(c.fp, ',')
		}
		if !k.IsRange() {
			op, err := c.keyOperand(k.Lo, a, i)
			if err != nil {
				return err
			}
			c.s.ops = append(c.s.ops, op)
			continue
		}
		a.Points = popInto(&c.nodes.opList, &c.s.ops, points)
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
	if !a.Ranged {
		a.Points = popInto(&c.nodes.opList, &c.s.ops, points)
	}
	return nil
}

func (c *checker) tooManyKeys(k *KeyExpr, a *Access, n int) error {
	if a.Index != nil {
		return invalidf(k.Pos, "too many keys: index %s has %d column%s (%s), got %d",
			a.Index.Name, len(a.Cols), plural(len(a.Cols)), strings.Join(colNames(a.Cols), ", "), n)
	}
	if a.Map != nil {
		return invalidf(k.Pos, "too many keys: map %s has one key, got %d", a.Map.Name(), n)
	}
	t := c.plan.Table
	if len(a.Cols) == 0 {
		return invalidf(k.Pos, "too many keys: %s is a singleton table with no key columns, got %d", t.Desc.Name(), n)
	}
	return invalidf(k.Pos, "too many keys: %s has %d key column%s (%s), got %d",
		t.Desc.Name(), len(a.Cols), plural(len(a.Cols)), strings.Join(colNames(a.Cols), ", "), n)
}

func colNames(cols []*schema.Column) []string {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name()
	}
	return names
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
	val, err := keyLiteral(v, fd, site{c, a, i})
	if err != nil {
		return nil, err
	}
	op := c.nodes.operands.new()
	op.Pos, op.Value = v.Pos, val
	c.fp = appendOperand(c.fp, op, a.Cols[i].Field)
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
		return c.varOperand(v, old), nil
	}
	nv := c.nodes.vars.new()
	*nv = Var{Name: name, Pos: v.Pos, Type: t, Index: len(c.s.vars)}
	c.s.vars = append(c.s.vars, nv)
	if c.vars != nil {
		c.vars[name] = nv
	}
	return c.varOperand(v, nv), nil
}

func (c *checker) varOperand(v *Value, x *Var) *Operand {
	op := c.nodes.operands.new()
	op.Pos, op.Var = v.Pos, x
	return op
}

// lookupVar returns the variable named name, or nil.
func (c *checker) lookupVar(name string) *Var {
	const scan = 16 // few variables: a scan beats a map
	if c.vars == nil && len(c.s.vars) > scan {
		c.vars = make(map[string]*Var, 2*len(c.s.vars))
		for _, v := range c.s.vars {
			c.vars[v.Name] = v
		}
	}
	if c.vars != nil {
		return c.vars[name]
	}
	for _, v := range c.s.vars {
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
		op, err := c.useVar(arg.Value, VarType{Arg: arg.Name, Where: c.concat(arg.Name, " of ", clipPath(a.Path))})
		if err != nil {
			return nil, err
		}
		if counts {
			c.fp = append(append(append(c.fp[:mark], "(reverse:$"...), op.Var.Name...), ')')
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
	op := c.nodes.operands.new()
	op.Pos, op.Value = arg.Value.Pos, v
	return op, nil
}
