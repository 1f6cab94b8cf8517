package query

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/golden"
)

func TestGrammarGolden(t *testing.T) {
	golden.File(t, "testdata/grammar.ebnf", []byte(Grammar()+"\n"))
}

// TestParse runs testdata/parse.txt: "parse" cases print the AST with
// positions, or the syntax error.
func TestParse(t *testing.T) {
	golden.RunFile(t, "testdata/parse.txt", func(t *testing.T, c *golden.Case) string {
		ast, err := Parse(c.Input)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("%s: error %v does not wrap ErrSyntax", c.Pos, err)
			}
			return err.Error()
		}
		return dumpAST(ast)
	})
}

func writeAST(sb *strings.Builder, a *AST) {
	writeSelection(sb, a.Root, 0)
}

func writeSelection(sb *strings.Builder, s *Selection, depth int) {
	ind := strings.Repeat("  ", depth)
	fmt.Fprintf(sb, "%s%d:%d selection", ind, s.Pos.Line, s.Pos.Column)
	if s.Alias != "" {
		fmt.Fprintf(sb, " alias=%s", s.Alias)
	}
	fmt.Fprintf(sb, " name=%s\n", s.Name)
	if s.Keys != nil {
		fmt.Fprintf(sb, "%s  %d:%d keys\n", ind, s.Keys.Pos.Line, s.Keys.Pos.Column)
		for _, k := range s.Keys.Exprs {
			kind := "point"
			if k.IsRange() {
				kind = "range"
			}
			fmt.Fprintf(sb, "%s    %d:%d %s lo=%s hi=%s\n", ind, k.Pos.Line, k.Pos.Column, kind, dumpValue(k.Lower()), dumpValue(k.Upper()))
		}
	}
	if s.Args != nil {
		fmt.Fprintf(sb, "%s  %d:%d args\n", ind, s.Args.Pos.Line, s.Args.Pos.Column)
		for _, a := range s.Args.Args {
			fmt.Fprintf(sb, "%s    %d:%d %s=%s\n", ind, a.Pos.Line, a.Pos.Column, a.Name, dumpValue(a.Value))
		}
	}
	if s.Sub != nil {
		fmt.Fprintf(sb, "%s  %d:%d sub\n", ind, s.Sub.Pos.Line, s.Sub.Pos.Column)
		for _, f := range s.Sub.Fields {
			writeSelection(sb, f, depth+2)
		}
	}
}

func dumpValue(v *Value) string {
	switch {
	case v == nil:
		return "-"
	case v.String != nil:
		return fmt.Sprintf("%s@%d:%d", *v.String, v.Pos.Line, v.Pos.Column)
	case v.Int != nil:
		return fmt.Sprintf("int(%s)@%d:%d", *v.Int, v.Pos.Line, v.Pos.Column)
	case v.Bool != nil:
		return fmt.Sprintf("%s@%d:%d", *v.Bool, v.Pos.Line, v.Pos.Column)
	default:
		return fmt.Sprintf("$%s@%d:%d", *v.Var, v.Pos.Line, v.Pos.Column)
	}
}
