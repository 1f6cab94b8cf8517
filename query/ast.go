package query

import "strconv"

// The AST of a query, as Parse returns it: one struct per production of
// the grammar (see Grammar for its EBNF). Every node carries the position
// of its first token. Values keep the literal's text: the checker types it
// by the schema (an int literal on a uint32 key must fit a uint32), so the
// grammar does not decide types.

// Position is a place in a query's text.
type Position struct {
	// Offset is the byte offset, from 0.
	Offset int
	// Line and Column count from 1; columns count runes (Unicode code
	// points). The zero Position stands for no place in the text.
	Line   int
	Column int
}

// String returns "line:column", or "-" for the zero Position.
func (p Position) String() string {
	if p.Line == 0 {
		return "-"
	}
	return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
}

// AST is a parsed query: one root selection.
type AST struct {
	Pos  Position
	Root *Selection
}

// Selection is a field (or, at the root, a table) with optional alias, keys,
// arguments and sub-selection.
type Selection struct {
	Pos Position
	// Alias labels the selection in Explain and in text output; results use
	// field names.
	Alias string
	// Name is a table name at the root, a field name below.
	Name string
	Keys *KeyList
	Args *ArgList
	Sub  *SubSelect
}

// KeyList is "[k1, k2, …]": key columns in order, or one map key.
type KeyList struct {
	Pos   Position
	Exprs []*KeyExpr
}

// KeyExpr is one key: a point "v", or a half-open range "lo..hi", "lo.."
// or "..hi" (at least one bound). Use IsRange, Lower and Upper rather than
// the fields, which mirror the two shapes of the grammar.
type KeyExpr struct {
	Pos Position
	// Lo is the point, or the inclusive lower bound of a range.
	Lo *Value
	// Dots is set when Lo is followed by "..".
	Dots bool
	// Hi is the exclusive upper bound after "lo..", if any.
	Hi *Value
	// To is the exclusive upper bound of "..hi".
	To *Value
}

// IsRange reports whether k is a range rather than a point.
func (k *KeyExpr) IsRange() bool { return k.Dots || k.To != nil }

// Lower returns the point or the range's lower bound; nil for "..hi".
func (k *KeyExpr) Lower() *Value { return k.Lo }

// Upper returns the range's exclusive upper bound; nil for a point or "lo..".
func (k *KeyExpr) Upper() *Value {
	if k.To != nil {
		return k.To
	}
	return k.Hi
}

// ArgList is "(name: value, …)".
type ArgList struct {
	Pos  Position
	Args []*Arg
}

// Arg is one "name: value" argument.
type Arg struct {
	Pos   Position
	Name  string
	Value *Value
}

// SubSelect is "{ … }": the fields to return, commas optional.
type SubSelect struct {
	Pos    Position
	Fields []*Selection
}

// Value is a literal or a variable. Exactly one field is set; String and
// Int hold the literal's source text.
type Value struct {
	Pos    Position
	String *string
	Int    *string
	Bool   *string
	Var    *string
}
