package query

import (
	"errors"
	"strconv"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/protoql/protoql/query/internal/grammar"
)

// fastParse parses text into the AST that participle builds from the
// grammar in grammar.go, without reflection: compiling a query is on every
// request's path, and participle's reflective parser costs ~40µs a query
// (and far more, superlinearly, on its error path). Selections nest at
// most maxDepth deep: the parser refuses the '{' that would go deeper
// before descending into it, so its recursion is bounded. Errors are
// positioned at the first token that does not fit and say what was
// expected there. FuzzParse keeps the two parsers in agreement.
func fastParse(text string, maxDepth int) (*AST, *Error) {
	s := getScratch()
	defer putScratch(s)
	p := newParser(text, maxDepth, s)
	return p.parse(new(AST))
}

// newParser returns a parser of text whose stacks are s's.
func newParser(text string, maxDepth int, s *scratch) fastParser {
	return fastParser{l: grammar.NewLexer(text), maxDepth: maxDepth, s: s}
}

// parse parses the whole text into ast.
func (p *fastParser) parse(ast *AST) (*AST, *Error) {
	root := p.selection(true)
	if root != nil {
		if t := p.peek(); t.Type != grammar.TokEOF {
			p.fail(t, "the end of the query")
		}
	}
	if root == nil && p.err == nil {
		p.fail(p.peek(), "a query") // unreachable: every failure records its error
	}
	if p.err != nil {
		return nil, p.err
	}
	*ast = AST{Pos: root.Pos, Root: root}
	return ast, nil
}

// fastParser is a recursive-descent parser with up to three tokens of
// lookahead (for "alias: name"). It stops at the first error.
type fastParser struct {
	l        grammar.Lexer
	la       [3]lexer.Token
	n        int // tokens in la
	err      *Error
	depth    int // of the innermost open '{'
	maxDepth int
	// Nodes are allocated in slabs (arena.go): a query is a few dozen
	// small nodes, and one allocation per node would be most of the
	// parse's cost. Lists are built on s's stacks.
	nodes nodes
	s     *scratch
}

func (p *fastParser) str(s string) *string {
	ps := p.nodes.strs.new()
	*ps = s
	return ps
}

func (p *fastParser) peek() *lexer.Token { return p.peekAt(0) }

// peekAt returns the token i ahead. A lexical error is recorded, and reads
// as the end of the input, so parsing stops there.
func (p *fastParser) peekAt(i int) *lexer.Token {
	for p.n <= i {
		t, err := p.l.Next()
		if err != nil {
			p.lexError(err)
			t = lexer.Token{Type: grammar.TokEOF, Pos: p.l.Pos()}
		}
		p.la[p.n] = t
		p.n++
	}
	return &p.la[i]
}

func (p *fastParser) lexError(err error) {
	if p.err != nil {
		return
	}
	var le *lexer.Error
	if errors.As(err, &le) {
		p.err = &Error{Pos: position(le.Pos), Msg: le.Msg, Err: ErrSyntax}
		return
	}
	p.err = &Error{Pos: position(p.l.Pos()), Msg: err.Error(), Err: ErrSyntax}
}

// fail records that token t is not what was expected (the first error
// wins: a lexical error reads as the end of input, which fails next).
func (p *fastParser) fail(t *lexer.Token, expected string) {
	if p.err == nil {
		p.err = &Error{Pos: position(t.Pos), Msg: "unexpected " + describeToken(t) + "; expected " + expected, Err: ErrSyntax}
	}
}

// describeToken names a token for messages, its text clipped.
func describeToken(t *lexer.Token) string {
	switch t.Type {
	case grammar.TokEOF:
		return "end of query"
	case grammar.TokString:
		return "string " + clip(t.Value)
	case grammar.TokInt:
		return "integer " + clip(t.Value)
	case grammar.TokIdent:
		return "name " + quote(t.Value)
	}
	return strconv.Quote(t.Value)
}

// skip consumes k tokens.
func (p *fastParser) skip(k int) {
	p.peekAt(k - 1)
	copy(p.la[:], p.la[k:p.n])
	p.n -= k
}

// is reports whether the next token is the punctuation or range token s.
// Like participle's literals, it matches by text: no identifier, string or
// integer token has the text of a punctuation token.
func (p *fastParser) is(s string) bool {
	t := p.peek()
	return t.Type != grammar.TokEOF && t.Value == s
}

func (p *fastParser) accept(s string) bool {
	if p.is(s) {
		p.skip(1)
		return true
	}
	return false
}

// expect consumes s or fails with what was expected.
func (p *fastParser) expect(s, expected string) bool {
	if p.accept(s) {
		return true
	}
	p.fail(p.peek(), expected)
	return false
}

func (p *fastParser) ident(expected string) (string, bool) {
	t := p.peek()
	if t.Type == grammar.TokIdent {
		v := t.Value
		p.skip(1)
		return v, true
	}
	p.fail(t, expected)
	return "", false
}

// selection parses "[alias :] name [keys] [args] [{…}]".
func (p *fastParser) selection(root bool) *Selection {
	s := p.nodes.sels.new()
	s.Pos = position(p.peek().Pos)
	if p.peek().Type == grammar.TokIdent && p.peekAt(1).Value == ":" && p.peekAt(1).Type == grammar.TokPunct && p.peekAt(2).Type == grammar.TokIdent {
		s.Alias = p.peek().Value
		p.skip(2)
	}
	what := "a field name"
	if root {
		what = "a table name"
	}
	var ok bool
	if s.Name, ok = p.ident(what); !ok {
		return nil
	}
	if p.is("[") {
		if s.Keys = p.keys(); s.Keys == nil {
			return nil
		}
	}
	if p.is("(") {
		if s.Args = p.args(); s.Args == nil {
			return nil
		}
	}
	if p.is("{") {
		if s.Sub = p.sub(); s.Sub == nil {
			return nil
		}
	}
	return s
}

func (p *fastParser) keys() *KeyList {
	kl := p.nodes.keyLists.new()
	kl.Pos = position(p.peek().Pos)
	p.skip(1) // "["
	mark := len(p.s.exprs)
	for {
		k := p.keyExpr()
		if k == nil {
			return nil
		}
		p.s.exprs = append(p.s.exprs, k)
		if p.accept("]") {
			kl.Exprs = popInto(&p.nodes.exprList, &p.s.exprs, mark)
			return kl
		}
		if !p.expect(",", `"," or "]"`) {
			return nil
		}
	}
}

const valueWords = "a string, an integer, true, false or a $variable"

func (p *fastParser) keyExpr() *KeyExpr {
	k := p.nodes.exprs.new()
	k.Pos = position(p.peek().Pos)
	if p.accept("..") {
		if k.To = p.value("the range's upper bound: " + valueWords); k.To == nil {
			return nil
		}
		return k
	}
	if k.Lo = p.value("a key: " + valueWords + `, or a range lo..hi, lo.. or ..hi`); k.Lo == nil {
		return nil
	}
	if p.accept("..") {
		k.Dots = true
		if p.startsValue() {
			k.Hi = p.value(valueWords)
		}
	}
	return k
}

func (p *fastParser) args() *ArgList {
	al := p.nodes.argLists.new()
	al.Pos = position(p.peek().Pos)
	p.skip(1) // "("
	mark := len(p.s.args)
	for {
		a := p.nodes.args.new()
		a.Pos = position(p.peek().Pos)
		var ok bool
		if a.Name, ok = p.ident("an argument name (first, after or reverse)"); !ok {
			return nil
		}
		if !p.expect(":", `":" and the argument's value`) {
			return nil
		}
		if a.Value = p.value("the argument's value: " + valueWords); a.Value == nil {
			return nil
		}
		p.s.args = append(p.s.args, a)
		if p.accept(")") {
			al.Args = popInto(&p.nodes.argList, &p.s.args, mark)
			return al
		}
		if !p.expect(",", `"," or ")"`) {
			return nil
		}
	}
}

func (p *fastParser) sub() *SubSelect {
	pos := position(p.peek().Pos)
	if p.depth >= p.maxDepth {
		if p.err == nil {
			p.err = &Error{Pos: pos, Err: ErrLimit,
				Msg: "selections {…} nest deeper than " + strconv.Itoa(p.maxDepth) + " levels (query.Limits.MaxDepth)"}
		}
		return nil
	}
	p.depth++
	defer func() { p.depth-- }()
	p.skip(1) // "{"
	ss := p.nodes.subs.new()
	ss.Pos = pos
	mark := len(p.s.sels)
	for !p.accept("}") {
		if p.peek().Type != grammar.TokIdent {
			p.fail(p.peek(), `a field name or "}"`)
			return nil
		}
		f := p.selection(false)
		if f == nil {
			return nil
		}
		p.s.sels = append(p.s.sels, f)
		p.accept(",")
	}
	ss.Fields = popInto(&p.nodes.selList, &p.s.sels, mark)
	return ss
}

func (p *fastParser) startsValue() bool {
	t := p.peek()
	switch t.Type {
	case grammar.TokString, grammar.TokInt:
		return true
	case grammar.TokIdent:
		return t.Value == "true" || t.Value == "false"
	}
	return t.Value == "$" && t.Type == grammar.TokPunct
}

func (p *fastParser) value(expected string) *Value {
	t := p.peek()
	var v Value
	v.Pos = position(t.Pos)
	switch {
	case t.Type == grammar.TokString:
		v.String = p.str(t.Value)
	case t.Type == grammar.TokInt:
		v.Int = p.str(t.Value)
	case t.Type == grammar.TokIdent && (t.Value == "true" || t.Value == "false"):
		v.Bool = p.str(t.Value)
	case t.Type == grammar.TokPunct && t.Value == "$":
		n := p.peekAt(1)
		if n.Type != grammar.TokIdent {
			p.fail(n, "a variable name after $")
			return nil
		}
		v.Var = p.str(n.Value)
		p.skip(1)
	default:
		p.fail(t, expected)
		return nil
	}
	p.skip(1)
	pv := p.nodes.vals.new()
	*pv = v
	return pv
}

// position converts a token's position to the AST's.
func position(p lexer.Position) Position {
	return Position{Offset: p.Offset, Line: p.Line, Column: p.Column}
}
