package cli

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// The CLI pages through results by rewriting a query's first: and after:
// arguments. A query's fingerprint leaves those two out (see package
// query), so a cursor from one page is accepted by the rewritten query of
// the next page. The rewriting works on the AST and prints it back as
// text: comments go, everything else stays as written.

// printQuery renders an AST as query text.
func printQuery(a *query.AST) string {
	var b strings.Builder
	printSelection(&b, a.Root)
	return b.String()
}

func printSelection(b *strings.Builder, s *query.Selection) {
	if s.Alias != "" {
		b.WriteString(s.Alias + ": ")
	}
	b.WriteString(s.Name)
	if s.Keys != nil {
		b.WriteByte('[')
		for i, k := range s.Keys.Exprs {
			if i > 0 {
				b.WriteString(", ")
			}
			if lo := k.Lower(); lo != nil {
				b.WriteString(valueText(lo))
			}
			if k.IsRange() {
				b.WriteString("..")
				if hi := k.Upper(); hi != nil {
					b.WriteString(valueText(hi))
				}
			}
		}
		b.WriteByte(']')
	}
	if s.Args != nil && len(s.Args.Args) > 0 {
		b.WriteByte('(')
		for i, a := range s.Args.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.Name + ": " + valueText(a.Value))
		}
		b.WriteByte(')')
	}
	if s.Sub != nil {
		b.WriteString(" { ")
		for i, f := range s.Sub.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			printSelection(b, f)
		}
		b.WriteString(" }")
	}
}

// valueText is a value as written: literals keep their source text.
func valueText(v *query.Value) string {
	switch {
	case v.String != nil:
		return *v.String
	case v.Int != nil:
		return *v.Int
	case v.Bool != nil:
		return *v.Bool
	case v.Var != nil:
		return "$" + *v.Var
	}
	return ""
}

// arg returns the value of s's argument name, or nil.
func arg(s *query.Selection, name string) *query.Value {
	if s.Args == nil {
		return nil
	}
	for _, a := range s.Args.Args {
		if a.Name == name {
			return a.Value
		}
	}
	return nil
}

// setArg sets (or, with a nil value, removes) s's argument name.
func setArg(s *query.Selection, name string, v *query.Value) {
	if s.Args == nil {
		s.Args = &query.ArgList{}
	}
	for i, a := range s.Args.Args {
		if a.Name == name {
			if v == nil {
				s.Args.Args = append(s.Args.Args[:i], s.Args.Args[i+1:]...)
			} else {
				a.Value = v
			}
			return
		}
	}
	if v != nil {
		s.Args.Args = append(s.Args.Args, &query.Arg{Name: name, Value: v})
	}
}

func intLit(n int) *query.Value {
	s := strconv.Itoa(n)
	return &query.Value{Int: &s}
}

func stringLit(s string) *query.Value {
	q := strconv.Quote(s)
	return &query.Value{String: &q}
}

// firstArg returns the literal first: of s, 0 when absent or a variable.
func firstArg(s *query.Selection) int {
	v := arg(s, "first")
	if v == nil || v.Int == nil {
		return 0
	}
	n, err := strconv.Atoi(*v.Int)
	if err != nil {
		return 0
	}
	return n
}

// limitMaps gives every selected map of the root's row that has no first:
// a first: of n, expanding a root selected whole into its stored fields
// first (so that its maps are paged too). Joins are left alone: a whole
// row never follows them. Maps selected inside map entries and objects are
// paged only where the query names them.
func limitMaps(a *query.AST, t *schema.Table, n int) {
	root := a.Root
	if root.Sub == nil {
		root.Sub = &query.SubSelect{}
		for _, f := range t.Root.Fields {
			if f.Storage == schema.KeyColumn || f.Join != nil {
				continue
			}
			root.Sub.Fields = append(root.Sub.Fields, &query.Selection{Name: string(f.Name())})
		}
		if len(root.Sub.Fields) == 0 {
			root.Sub = nil
			return
		}
	}
	limitNodeMaps(root.Sub, t.Root, n)
}

func limitNodeMaps(sub *query.SubSelect, node *schema.Node, n int) {
	if sub == nil || node == nil {
		return
	}
	for _, s := range sub.Fields {
		fd := node.Desc.Fields().ByName(protoreflect.Name(s.Name))
		if fd == nil {
			continue
		}
		f := node.Field(fd.Number())
		if f == nil {
			continue
		}
		switch f.Storage {
		case schema.Map:
			if arg(s, "first") == nil && (s.Keys == nil || s.Keys.Exprs[0].IsRange()) {
				setArg(s, "first", intLit(n))
			}
			limitNodeMaps(s.Sub, f.Child, n)
		case schema.Object:
			limitNodeMaps(s.Sub, f.Child, n)
		}
	}
}

// mapSelection finds the selection of the map at path (field names
// separated by dots, no entry keys) under the root; nil when the query does
// not name it.
func mapSelection(a *query.AST, path string) *query.Selection {
	s := a.Root
	for name := range strings.SplitSeq(path, ".") {
		if s.Sub == nil {
			return nil
		}
		var next *query.Selection
		for _, f := range s.Sub.Fields {
			if f.Name == name {
				next = f
			}
		}
		if next == nil {
			return nil
		}
		s = next
	}
	return s
}
