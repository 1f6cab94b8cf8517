package query

import "github.com/alecthomas/participle/v2/lexer"

// fastParse parses text into the AST that participle builds from the
// grammar in grammar.go, without reflection: compiling a query is on every
// request's path, and participle's reflective parser costs ~40µs a query.
// It reports only success; on any failure Parse asks participle, which
// names the position and what it expected. FuzzParse keeps the two parsers
// in agreement.
func fastParse(text string) (*AST, bool) {
	p := fastParser{l: lex{src: text, pos: lexer.Position{Line: 1, Column: 1}}}
	root := p.selection()
	if root == nil || p.peek().Type != tokEOF || p.bad {
		return nil, false
	}
	return &AST{Pos: root.Pos, Root: root}, true
}

// fastParser is a recursive-descent parser with up to three tokens of
// lookahead (for "alias: name"). A lexical error reads as the end of input
// and fails the parse.
type fastParser struct {
	l   lex
	la  [3]lexer.Token
	n   int // tokens in la
	bad bool
	// Nodes are allocated in chunks: a query is a few dozen small nodes,
	// and one allocation per node would be most of the parse's cost.
	sels  chunk[Selection]
	exprs chunk[KeyExpr]
	vals  chunk[Value]
	strs  chunk[string]
}

// chunk hands out pointers into slabs of T.
type chunk[T any] struct{ buf []T }

func (c *chunk[T]) new() *T {
	if len(c.buf) == cap(c.buf) {
		c.buf = make([]T, 0, 8)
	}
	c.buf = c.buf[:len(c.buf)+1]
	return &c.buf[len(c.buf)-1]
}

func (p *fastParser) str(s string) *string {
	ps := p.strs.new()
	*ps = s
	return ps
}

func (p *fastParser) peek() *lexer.Token { return p.peekAt(0) }

func (p *fastParser) peekAt(i int) *lexer.Token {
	for p.n <= i {
		t, err := p.l.Next()
		if err != nil {
			p.bad = true
			t = lexer.Token{Type: tokEOF, Pos: p.l.pos}
		}
		p.la[p.n] = t
		p.n++
	}
	return &p.la[i]
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
	return t.Type != tokEOF && t.Value == s
}

func (p *fastParser) accept(s string) bool {
	if p.is(s) {
		p.skip(1)
		return true
	}
	return false
}

func (p *fastParser) ident() (string, bool) {
	if t := p.peek(); t.Type == tokIdent {
		v := t.Value
		p.skip(1)
		return v, true
	}
	return "", false
}

// selection parses "[alias :] name [keys] [args] [{…}]".
func (p *fastParser) selection() *Selection {
	s := p.sels.new()
	s.Pos = p.peek().Pos
	if p.peek().Type == tokIdent && p.peekAt(1).Value == ":" && p.peekAt(1).Type == tokPunct && p.peekAt(2).Type == tokIdent {
		s.Alias = p.peek().Value
		p.skip(2)
	}
	var ok bool
	if s.Name, ok = p.ident(); !ok {
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
	kl := &KeyList{Pos: p.peek().Pos}
	p.skip(1) // "["
	for {
		k := p.keyExpr()
		if k == nil {
			return nil
		}
		kl.Exprs = append(kl.Exprs, k)
		if p.accept("]") {
			return kl
		}
		if !p.accept(",") {
			return nil
		}
	}
}

func (p *fastParser) keyExpr() *KeyExpr {
	k := p.exprs.new()
	k.Pos = p.peek().Pos
	if p.accept("..") {
		if k.To = p.value(); k.To == nil {
			return nil
		}
		return k
	}
	if k.Lo = p.value(); k.Lo == nil {
		return nil
	}
	if p.accept("..") {
		k.Dots = true
		if p.startsValue() {
			k.Hi = p.value()
		}
	}
	return k
}

func (p *fastParser) args() *ArgList {
	al := &ArgList{Pos: p.peek().Pos}
	p.skip(1) // "("
	for {
		a := &Arg{Pos: p.peek().Pos}
		var ok bool
		if a.Name, ok = p.ident(); !ok || !p.accept(":") {
			return nil
		}
		if a.Value = p.value(); a.Value == nil {
			return nil
		}
		al.Args = append(al.Args, a)
		if p.accept(")") {
			return al
		}
		if !p.accept(",") {
			return nil
		}
	}
}

func (p *fastParser) sub() *SubSelect {
	ss := &SubSelect{Pos: p.peek().Pos}
	p.skip(1) // "{"
	for !p.accept("}") {
		if p.peek().Type != tokIdent {
			return nil
		}
		f := p.selection()
		if f == nil {
			return nil
		}
		ss.Fields = append(ss.Fields, f)
		p.accept(",")
	}
	return ss
}

func (p *fastParser) startsValue() bool {
	t := p.peek()
	switch t.Type {
	case tokString, tokInt:
		return true
	case tokIdent:
		return t.Value == "true" || t.Value == "false"
	}
	return t.Value == "$" && t.Type == tokPunct
}

func (p *fastParser) value() *Value {
	t := p.peek()
	var v Value
	v.Pos = t.Pos
	switch {
	case t.Type == tokString:
		v.String = p.str(t.Value)
	case t.Type == tokInt:
		v.Int = p.str(t.Value)
	case t.Type == tokIdent && (t.Value == "true" || t.Value == "false"):
		v.Bool = p.str(t.Value)
	case t.Type == tokPunct && t.Value == "$":
		n := p.peekAt(1)
		if n.Type != tokIdent {
			return nil
		}
		v.Var = p.str(n.Value)
		p.skip(1)
	default:
		return nil
	}
	p.skip(1)
	pv := p.vals.new()
	*pv = v
	return pv
}
