package query

import (
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Plan is a checked query as data: which keys to read, in which order, and
// which fields to return. It holds no store and no variable values; Bind
// turns it into concrete key bounds. A Plan is immutable and safe to share.
//
// Reading follows the key layout: the root Access selects rows of Table;
// for each row, Proj says which parts to read. Every stored object (row,
// object field, message map entry, join target row) is read the same way:
// its own key (its inline fields, filtered to the selected ones), then each
// selected child in field-number order, which is key order, so one forward
// iterator serves a whole row and unselected children are seeked over,
// never read.
type Plan struct {
	// Table is the root table.
	Table *schema.Table
	// Root selects the rows.
	Root *Access
	// Proj is the projection of each row.
	Proj *Proj
	// Alias is the root selection's alias, if any.
	Alias string
	// Vars lists the variables in order of first use.
	Vars []*Var
	// Accesses lists every Access of the plan, indexed by Access.ID (the
	// root is 0).
	Accesses []*Access
	// Fingerprint identifies the query for cursors: two texts that differ
	// only in spacing, comments, aliases and first/after arguments have the
	// same fingerprint, and a cursor is accepted only by a query with the
	// fingerprint of the query that returned it.
	Fingerprint [8]byte
}

// Access selects the rows of a table (the root) or the entries of one map:
// leading key columns fixed to points, optionally a half-open range on the
// next column, and a page (first, after, reverse).
type Access struct {
	// ID indexes Plan.Accesses and Bound's per-access data.
	ID int
	// Path is the symbolic path of what is read, such as
	// `User[user_id=$id].sessions`.
	Path string
	// Cols are the key columns: the table's key columns, or the map key.
	// They encode the access's values as key elements.
	Cols []*schema.Column
	// Points fix Cols[:len(Points)].
	Points []*Operand
	// Ranged is set when Cols[len(Points)] is restricted to [Lower, Upper);
	// a nil bound is open.
	Ranged       bool
	Lower, Upper *Operand
	// First, After and Reverse are the page arguments; nil when absent.
	First, After, Reverse *Operand
	// Map is the map field for a map access; nil for the root.
	Map *schema.Field
	// Index is the secondary index the access reads through; nil when it
	// reads by primary key or map key. Cols are then the index's columns,
	// the bounds select index entries, and each entry names the row (or,
	// for a map's index, the map entry) to read.
	Index *schema.Index
}

// usesVars reports whether any operand of the access is a variable.
func (a *Access) usesVars() bool {
	for _, op := range a.Points {
		if op.Var != nil {
			return true
		}
	}
	for _, op := range []*Operand{a.Lower, a.Upper, a.First, a.After, a.Reverse} {
		if op != nil && op.Var != nil {
			return true
		}
	}
	return false
}

// Exact reports whether the access fixes every key column: it reads one
// object (or none). Through an index it is so only for a unique index,
// whose entry for given values is one key; a non-unique index's entries
// for given values are a prefix scan.
func (a *Access) Exact() bool {
	return len(a.Points) == len(a.Cols) && (a.Index == nil || a.Index.Unique)
}

// Operand is a value in the query: a literal, already typed by the schema,
// or a variable bound at execution.
type Operand struct {
	// Pos is where the value is written.
	Pos Position
	// Value is the literal's value, of the Go type protoreflect uses for
	// the field (int32 for an int32 key, EnumNumber for an enum, …);
	// invalid for a variable.
	Value protoreflect.Value
	// Var is the variable; nil for a literal.
	Var *Var
}

// Var is a variable of the query, typed by where it is used.
type Var struct {
	// Name is the name without "$".
	Name string
	// Pos is the first use.
	Pos Position
	// Type is what the variable must hold.
	Type VarType
	// Index is the variable's position in Plan.Vars.
	Index int
}

// VarType is the type of a variable: a key column's (or map key's) type,
// a positive count (first), a cursor (after), or a bool (reverse).
type VarType struct {
	// Field is set for key values: the value must fit its type.
	Field protoreflect.FieldDescriptor
	// Arg is "first", "after" or "reverse" for arguments.
	Arg string
	// Where describes the first use, for messages ("key column
	// User.user_id").
	Where string
}

// String names the type as messages show it.
func (t VarType) String() string {
	switch t.Arg {
	case "first":
		return "a positive integer"
	case "after":
		return "a cursor string"
	case "reverse":
		return "a bool"
	}
	return article(typeName(t.Field))
}

// Proj is the projection of one stored object: which of its fields to
// read and return.
type Proj struct {
	// Node is the object's layout.
	Node *schema.Node
	// Path is the object's symbolic path in the plan.
	Path string
	// All is set when the object is selected whole (no {…}): every key
	// under it is read and every stored field returned. Join fields, which
	// store nothing, are returned only when selected.
	All bool
	// Inline lists the selected inline fields in number order. Key columns
	// of a row are never listed: they are always returned, from the key.
	Inline []*schema.Field
	// Hidden lists inline fields read only as join sources: decoded, used,
	// then cleared. Key columns are never hidden: a key column that is a
	// join source comes from the row key and is returned like any key.
	Hidden []*schema.Field
	// Children lists the selected breakout, object and map fields in
	// number order, which is key order.
	Children []*Child
	// Joins lists the selected join fields.
	Joins []*Child
	// Skipped lists the stored children that are not selected: their keys
	// are never read.
	Skipped []*schema.Field
	// keep holds the field numbers of Inline and Hidden, sorted, for
	// filtering a value's fields.
	keep []protoreflect.FieldNumber
	// joinsBelow is set when a join is selected in this object or below.
	joinsBelow bool
}

// Keeps reports whether the inline field numbered num is read from the
// object's value (selected, or needed as a join source).
func (p *Proj) Keeps(num protoreflect.FieldNumber) bool {
	if p.All {
		return true
	}
	for _, k := range p.keep {
		if k >= num {
			return k == num
		}
	}
	return false
}

// HasJoins reports whether a join is selected in this object or below it.
func (p *Proj) HasJoins() bool { return p.joinsBelow }

// Child is one selected field stored under its own key, or a join.
type Child struct {
	// Field is the field.
	Field *schema.Field
	// Alias is the selection's alias, if any.
	Alias string
	// Pos is where the field is selected.
	Pos Position
	// Elem is the field's key element under its parent: a unit element
	// for breakout and object fields, the map's tag for maps (entries
	// append their key's payload). Nil for joins.
	Elem []byte
	// Proj is the projection of the object field, of each entry of a
	// message map, or of the join's target row; nil for breakout fields
	// and maps of scalars, which are read whole.
	Proj *Proj
	// Access selects a map's entries; nil for a map read whole and for
	// other fields.
	Access *Access
	// Target is the join's target table; nil for other fields.
	Target *schema.Table
}
