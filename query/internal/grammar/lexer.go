// Package grammar defines the query language: its tokens, the hand-written
// lexer that query's parser reads them with, and the participle grammar
// that is the language's reference (its EBNF is query.Grammar). The
// grammar's AST mirrors query's, with participle's positions; query's tests
// hold query's hand-written parser to it. It lives apart so that
// participle's types stay out of query's API.
package grammar

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types of the query language. The lexer is hand-written because a
// query is compiled on every request: a regexp lexer costs more than the
// rest of compilation together. Its rules are those of the table below,
// which the tests check against participle's regexp lexer on fuzzed input.
//
//	Comment     #[^\n]*                      (dropped)
//	Whitespace  [ \t\r\n]+                   (dropped)
//	String      "(?:\\.|[^"\\\n])*"
//	Int         -?[0-9]+
//	Ident       [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*
//	Range       \.\.
//	Punct       [\[\]{}(),:$]
const (
	TokEOF    = lexer.EOF
	TokString = lexer.TokenType(-2 - iota)
	TokInt
	TokIdent
	TokRange
	TokPunct
)

// Definition is the participle lexer definition.
type Definition struct{}

func (Definition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": TokEOF, "String": TokString, "Int": TokInt, "Ident": TokIdent, "Range": TokRange, "Punct": TokPunct,
	}
}

func (d Definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

func (Definition) LexString(filename, input string) (lexer.Lexer, error) {
	return &Lexer{src: input, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, nil
}

// NewLexer returns a lexer of src.
func NewLexer(src string) Lexer {
	return Lexer{src: src, pos: lexer.Position{Line: 1, Column: 1}}
}

// Pos is the position of the next byte the lexer reads.
func (l *Lexer) Pos() lexer.Position { return l.pos }

// Lexer scans one input.
type Lexer struct {
	src string
	pos lexer.Position // of src[pos.Offset]
}

// Next returns the next token, or an error naming the position of a
// character no token can start with.
func (l *Lexer) Next() (lexer.Token, error) {
	l.skipSpace()
	start := l.pos
	if l.pos.Offset >= len(l.src) {
		return lexer.Token{Type: TokEOF, Pos: start}, nil
	}
	rest := l.src[l.pos.Offset:]
	typ, n := scan(rest)
	if n == 0 && rest[0] == '"' {
		return lexer.Token{}, &lexer.Error{Msg: `unterminated string: a string ends with " on its line`, Pos: start}
	}
	if n == 0 {
		return lexer.Token{}, &lexer.Error{Msg: "invalid character " + quoteRune(rest) + "; expected a name, a string, an integer or one of [ ] { } ( ) , : $ ..", Pos: start}
	}
	l.advance(n)
	return lexer.Token{Type: typ, Value: rest[:n], Pos: start}, nil
}

// scan returns the type and length of the token at the start of s, or
// n == 0 when none starts there.
func scan(s string) (lexer.TokenType, int) {
	c := s[0]
	switch {
	case c == '"':
		return TokString, scanString(s)
	case c == '-' || isDigit(c):
		n := 0
		if c == '-' {
			n = 1
		}
		d := n
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if n == d {
			return 0, 0
		}
		return TokInt, n
	case isLetter(c):
		return TokIdent, scanIdent(s)
	case c == '.':
		if len(s) > 1 && s[1] == '.' {
			return TokRange, 2
		}
	case strings.IndexByte("[]{}(),:$", c) >= 0:
		return TokPunct, 1
	}
	return 0, 0
}

// scanString returns the length of the string literal at the start of s,
// or 0 when it is not terminated on its line.
func scanString(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return i + 1
		case '\n':
			return 0
		case '\\':
			i++
			if i < len(s) && s[i] == '\n' {
				// "\\." in the rule excludes nothing, but a raw newline
				// never belongs to a literal.
				return 0
			}
		}
	}
	return 0
}

func scanIdent(s string) int {
	n := 1
	for {
		for n < len(s) && (isLetter(s[n]) || isDigit(s[n])) {
			n++
		}
		if n+1 < len(s) && s[n] == '.' && isLetter(s[n+1]) {
			n += 2
			continue
		}
		return n
	}
}

func (l *Lexer) skipSpace() {
	for l.pos.Offset < len(l.src) {
		switch c := l.src[l.pos.Offset]; c {
		case ' ', '\t', '\r':
			l.pos.Offset++
			l.pos.Column++
		case '\n':
			l.pos.Offset++
			l.pos.Line++
			l.pos.Column = 1
		case '#':
			n := strings.IndexByte(l.src[l.pos.Offset:], '\n')
			if n < 0 {
				n = len(l.src) - l.pos.Offset
			}
			l.advance(n)
		default:
			return
		}
	}
}

// advance moves past n bytes on one line: no token and no comment holds a
// newline, and skipSpace counts the newlines between them. Columns count
// runes, as participle's lexers do, so both report the same positions.
func (l *Lexer) advance(n int) {
	l.pos.Column += utf8.RuneCountInString(l.src[l.pos.Offset : l.pos.Offset+n])
	l.pos.Offset += n
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

func quoteRune(s string) string {
	for _, r := range s {
		return strconv.QuoteRune(r)
	}
	return `""`
}
