package grammar

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file is the whole grammar of the query language: the AST, one struct
// per production, built by participle from the struct tags (the tokens are
// in lexer.go). It mirrors query's AST field by field, with participle's
// positions. query/testdata/grammar.ebnf is its EBNF, rewritten with go test
// -update. query's fastparse.go parses the same language without
// reflection; a fuzz test holds the two to the same ASTs, positions
// included, and the same accepted inputs.

// AST is a parsed query: one root selection.
type AST struct {
	Pos  lexer.Position
	Root *Selection `parser:"@@"`
}

// Selection is a field (or, at the root, a table) with optional alias, keys,
// arguments and sub-selection.
type Selection struct {
	Pos lexer.Position
	// Alias labels the selection in Explain and in text output; results use
	// field names.
	Alias string `parser:"( @Ident \":\" )?"`
	// Name is a table name at the root, a field name below.
	Name string     `parser:"@Ident"`
	Keys *KeyList   `parser:"@@?"`
	Args *ArgList   `parser:"@@?"`
	Sub  *SubSelect `parser:"@@?"`
}

// KeyList is "[k1, k2, …]": key columns in order, or one map key.
type KeyList struct {
	Pos   lexer.Position
	Exprs []*KeyExpr `parser:"\"[\" @@ ( \",\" @@ )* \"]\""`
}

// KeyExpr is one key: a point "v", or a half-open range "lo..hi", "lo.."
// or "..hi" (at least one bound). Use IsRange, Lower and Upper rather than
// the fields, which mirror the two shapes of the grammar.
type KeyExpr struct {
	Pos lexer.Position
	// Lo is the point, or the inclusive lower bound of a range.
	Lo *Value `parser:"(  @@"`
	// Dots is set when Lo is followed by "..".
	Dots bool `parser:"   ( @\"..\""`
	// Hi is the exclusive upper bound after "lo..", if any.
	Hi *Value `parser:"     @@? )?"`
	// To is the exclusive upper bound of "..hi".
	To *Value `parser:"| \"..\" @@ )"`
}

// ArgList is "(name: value, …)".
type ArgList struct {
	Pos  lexer.Position
	Args []*Arg `parser:"\"(\" @@ ( \",\" @@ )* \")\""`
}

// Arg is one "name: value" argument.
type Arg struct {
	Pos   lexer.Position
	Name  string `parser:"@Ident \":\""`
	Value *Value `parser:"@@"`
}

// SubSelect is "{ … }": the fields to return, commas optional.
type SubSelect struct {
	Pos    lexer.Position
	Fields []*Selection `parser:"\"{\" ( @@ \",\"? )* \"}\""`
}

// Value is a literal or a variable. Exactly one field is set; String and
// Int hold the literal's source text.
type Value struct {
	Pos    lexer.Position
	String *string `parser:"  @String"`
	Int    *string `parser:"| @Int"`
	Bool   *string `parser:"| @( \"true\" | \"false\" )"`
	Var    *string `parser:"| \"$\" @Ident"`
}

// Parser is the reference parser of the language. It is for tests: its
// error path costs far more than the input's size warrants.
var Parser = participle.MustBuild[AST](
	participle.Lexer(Definition{}),
	participle.UseLookahead(2),
)

// EBNF returns the grammar in EBNF.
func EBNF() string { return Parser.String() }
