package query

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/protoql/protoql/query/internal/grammar"
)

// lexRules are the token rules of lexer.go as regular expressions, the
// form participle's own lexer takes: the reference the hand-written lexer
// is checked against.
var lexRules = []lexer.SimpleRule{
	{Name: "Comment", Pattern: `#[^\n]*`},
	{Name: "Whitespace", Pattern: `[ \t\r\n]+`},
	{Name: "String", Pattern: `"(?:\\.|[^"\\\n])*"`},
	{Name: "Int", Pattern: `-?[0-9]+`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`},
	{Name: "Range", Pattern: `\.\.`},
	{Name: "Punct", Pattern: `[\[\]{}(),:$]`},
}

var refLexer = lexer.MustSimple(lexRules)

var fuzzSeeds = []string{
	`User["alice"] { registered, sessions { expires_us } }`,
	`User["a".."m"](first: 10) { user_id }`,
	`User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }`,
	`User["alice"] { threads { thread { body } } }`,
	`u: protoql.test.v1.User[..5, 3..] # comment`,
	"Inbox[\"bob\", 1, -5..]\n{ subject labels { by_id[1..] } }",
	`User[..]`, `User{`, `x: y: z`, `a: 5`, `User[$]`, `"\q"`, `User["\"]`, `User[1..2..3]`,
	`Config(after: "", first: $n) { motd, flags["a"] }`,
}

// FuzzParse checks that the parser never panics, that every error is an
// *Error with a position inside the text, that the hand-written lexer
// agrees with the regexp rules, and that the fast parser agrees with
// participle on what it accepts and on the AST, positions included.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkLexer(t, text)
		ast, err := Parse(text)
		if err != nil {
			checkParseError(t, text, err)
		}
		fast, ferr := fastParse(text, MaxDepthLimit)
		if ferr != nil {
			checkParseError(t, text, ferr)
		}
		ref, refErr := refParse(text)
		if (ferr == nil) != (refErr == nil) {
			t.Fatalf("Parse(%q): fast parser err=%v, participle err=%v", text, ferr, refErr)
		}
		if ferr == nil && !reflect.DeepEqual(fast, ref) {
			t.Fatalf("Parse(%q): fast parser AST differs from participle's:\nfast: %s\nref:  %s", text, dumpAST(fast), dumpAST(ref))
		}
		if err == nil && !reflect.DeepEqual(ast, ref) {
			t.Fatalf("Parse(%q) differs from participle", text)
		}
	})
}

// checkParseError requires a positioned syntax or limit *Error inside the
// text.
func checkParseError(t *testing.T, text string, err error) {
	t.Helper()
	var qe *Error
	if !errors.As(err, &qe) || !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrLimit) {
		t.Fatalf("Parse(%q): error %v is not a syntax or limit *Error", text, err)
	}
	if qe.Pos.Line < 1 || qe.Pos.Column < 1 || qe.Pos.Offset > len(text) {
		t.Fatalf("Parse(%q): error %v has position %+v outside the text", text, err, qe.Pos)
	}
}

func checkLexer(t *testing.T, text string) {
	t.Helper()
	l, _ := grammar.Definition{}.LexString("", text)
	got, gotErr := lexer.ConsumeAll(l)
	rl, _ := refLexer.LexString("", text)
	want, wantErr := lexer.ConsumeAll(rl)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("lexing %q: got error %v, want %v", text, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	syms := refLexer.Symbols()
	var kept []lexer.Token
	for _, tok := range want {
		if tok.Type == syms["Comment"] || tok.Type == syms["Whitespace"] {
			continue
		}
		kept = append(kept, tok)
	}
	if len(got) != len(kept) {
		t.Fatalf("lexing %q: got %d tokens, want %d", text, len(got), len(kept))
	}
	names := lexer.SymbolsByRune(refLexer)
	mine := lexer.SymbolsByRune(grammar.Definition{})
	for i := range got {
		g, w := got[i], kept[i]
		if mine[g.Type] != names[w.Type] || g.Value != w.Value || g.Pos != w.Pos {
			t.Fatalf("lexing %q: token %d is %s %q at %v, want %s %q at %v", text, i, mine[g.Type], g.Value, g.Pos, names[w.Type], w.Value, w.Pos)
		}
	}
}

func dumpAST(a *AST) string {
	var sb strings.Builder
	writeAST(&sb, a)
	return sb.String()
}

// TestParseTokenSoup holds the fast parser to participle's on random token
// sequences, which reach the grammar's structure far more often than
// random bytes do.
func TestParseTokenSoup(t *testing.T) {
	vocab := []string{"User", "a", "b.c", "x", ":", ",", "[", "]", "{", "}", "(", ")", "..", "$", "$v", `"s"`, "-1", "7", "true", "false", " ", "\n"}
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 200000 {
		var sb strings.Builder
		for range 1 + r.IntN(14) {
			sb.WriteString(vocab[r.IntN(len(vocab))])
			sb.WriteByte(' ')
		}
		text := sb.String()
		fast, ferr := fastParse(text, MaxDepthLimit)
		ok := ferr == nil
		ref, err := refParse(text)
		if ok != (err == nil) {
			t.Fatalf("%q: fast parser ok=%v, participle err=%v", text, ok, err)
		}
		if ok {
			accepted++
			if !reflect.DeepEqual(fast, ref) {
				t.Fatalf("%q: ASTs differ:\nfast: %s\nref:  %s", text, dumpAST(fast), dumpAST(ref))
			}
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d of the token sequences parsed; the test exercises too little", accepted)
	}
}

// refParse parses text with the reference grammar and converts its AST to
// query's, field by field, so that the two parsers' ASTs compare with
// reflect.DeepEqual.
func refParse(text string) (*AST, error) {
	ref, err := grammar.Parser.ParseString("", text)
	if err != nil {
		return nil, err
	}
	var a AST
	convertAST(reflect.ValueOf(&a).Elem(), reflect.ValueOf(ref).Elem())
	return &a, nil
}

// convertAST copies src, a grammar AST value, into dst, the query AST value
// of the same shape.
func convertAST(dst, src reflect.Value) {
	switch {
	case src.Type() == reflect.TypeFor[lexer.Position]():
		p := src.Interface().(lexer.Position)
		dst.Set(reflect.ValueOf(Position{Offset: p.Offset, Line: p.Line, Column: p.Column}))
	case src.Kind() == reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
			convertAST(dst.Elem(), src.Elem())
		}
	case src.Kind() == reflect.Slice:
		if !src.IsNil() {
			dst.Set(reflect.MakeSlice(dst.Type(), src.Len(), src.Len()))
			for i := range src.Len() {
				convertAST(dst.Index(i), src.Index(i))
			}
		}
	case src.Kind() == reflect.Struct:
		if dst.NumField() != src.NumField() {
			panic("query and grammar ASTs differ in " + dst.Type().String())
		}
		for i := range src.NumField() {
			if dst.Type().Field(i).Name != src.Type().Field(i).Name {
				panic("query and grammar ASTs differ in " + dst.Type().String() + "." + dst.Type().Field(i).Name)
			}
			convertAST(dst.Field(i), src.Field(i))
		}
	default:
		dst.Set(src)
	}
}
