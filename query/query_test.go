package query_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

var catalog = sync.OnceValue(func() *schema.Catalog {
	cat, err := schema.Compile(testpb.File_protoql_test_v1_social_proto)
	if err != nil {
		panic(err)
	}
	return cat
})

// TestCompileErrors runs testdata/errors.txt: "compile" prints the error
// (or "ok"), "bind a=1 b="x"" compiles then binds the given variables.
func TestCompileErrors(t *testing.T) {
	golden.RunFile(t, "testdata/errors.txt", func(t *testing.T, c *golden.Case) string {
		q, err := query.Compile(catalog(), c.Input)
		if err == nil && c.Cmd == "bind" {
			_, err = q.Bind(parseVars(t, c))
		}
		if err == nil {
			return "ok"
		}
		var qe *query.Error
		if !errors.As(err, &qe) {
			t.Errorf("%s: error %v is not a *query.Error", c.Pos, err)
		}
		if !errors.Is(err, query.ErrSyntax) && !errors.Is(err, query.ErrInvalid) && !errors.Is(err, query.ErrVariable) && !errors.Is(err, query.ErrCursor) {
			t.Errorf("%s: error %v wraps no sentinel", c.Pos, err)
		}
		return err.Error()
	})
}

// TestExplain runs testdata/explain.txt: "explain" prints Query.Explain,
// "explain-bound a=1 b="x"" prints Bound.Explain with these variables.
func TestExplain(t *testing.T) {
	golden.RunFile(t, "testdata/explain.txt", func(t *testing.T, c *golden.Case) string {
		q, err := query.Compile(catalog(), c.Input)
		if err != nil {
			return err.Error()
		}
		if c.Cmd == "explain-bound" {
			b, err := q.Bind(parseVars(t, c))
			if err != nil {
				return err.Error()
			}
			return b.Explain()
		}
		return q.Explain()
	})
}

// parseVars reads name=value arguments: a quoted string, true/false, an
// integer (int64, or uint64 when suffixed u), or bytes:"…".
func parseVars(t *testing.T, c *golden.Case) map[string]any {
	vars := map[string]any{}
	for _, a := range c.Args {
		name, v, ok := strings.Cut(a, "=")
		if !ok {
			continue
		}
		vars[name] = parseVar(t, c, v)
	}
	return vars
}

func parseVar(t *testing.T, c *golden.Case, v string) any {
	switch {
	case strings.HasPrefix(v, `"`):
		s, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("%s: %v", c.Pos, err)
		}
		return s
	case strings.HasPrefix(v, "bytes:"):
		return []byte(parseVar(t, c, strings.TrimPrefix(v, "bytes:")).(string))
	case v == "true" || v == "false":
		return v == "true"
	case strings.HasSuffix(v, "u"):
		n, err := strconv.ParseUint(strings.TrimSuffix(v, "u"), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", c.Pos, err)
		}
		return n
	case strings.HasPrefix(v, "float:"):
		var f float64
		fmt.Sscan(strings.TrimPrefix(v, "float:"), &f)
		return f
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", c.Pos, err)
	}
	return n
}

func TestAmbiguousTable(t *testing.T) {
	src := func(pkg string, id int) string {
		return fmt.Sprintf(`syntax = "proto3";
package %s;
import "protoql/v1/options.proto";
message Item {
  option (protoql.v1.table) = {id: %d, key: ["id"]};
  string id = 1;
}`, pkg, id)
	}
	files, _, err := prototest.Compile(map[string]string{"a.proto": src("a", 1), "b.proto": src("b", 2)}, "a.proto", "b.proto")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.Compile(files...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = query.Compile(cat, `Item["x"]`)
	if want := `query: 1:1: table name "Item" is ambiguous: use one of a.Item, b.Item`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := query.Compile(cat, `b.Item["x"]`); err != nil {
		t.Errorf("full name: %v", err)
	}
}
