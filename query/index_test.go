package query_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

var indexedCatalog = sync.OnceValue(func() *schema.Catalog {
	cat, err := schema.Compile(testpb.File_protoql_test_v1_indexed_proto)
	if err != nil {
		panic(err)
	}
	return cat
})

// TestIndexQueries runs testdata/index.txt against the indexed test
// schema: "compile" prints the error or ok, "explain" prints
// Query.Explain, "explain-bound a=1" Bound.Explain.
func TestIndexQueries(t *testing.T) {
	golden.RunFile(t, "testdata/index.txt", func(t *testing.T, c *golden.Case) string {
		q, err := query.Compile(indexedCatalog(), c.Input)
		if err != nil {
			if !errors.Is(err, query.ErrInvalid) && !errors.Is(err, query.ErrSyntax) {
				t.Errorf("%s: error %v wraps neither ErrInvalid nor ErrSyntax", c.Pos, err)
			}
			return err.Error()
		}
		switch c.Cmd {
		case "explain":
			return q.Explain()
		case "explain-bound":
			b, err := q.Bind(parseVars(t, c))
			if err != nil {
				return err.Error()
			}
			return b.Explain()
		}
		return "ok"
	})
}

// TestIndexCursorRefusedByKeyAccess checks that a cursor of a query read
// through an index is refused by the same table's query by primary key,
// and the other way round: their positions are keys of different ranges.
func TestIndexCursorRefusedByKeyAccess(t *testing.T) {
	cat := indexedCatalog()
	byIndex := query.MustCompile(cat, `Account.by_age[30](after: $c) { name }`)
	byKey := query.MustCompile(cat, `Account["o"](after: $c) { name }`)
	for _, tc := range []struct {
		from, to *query.Query
	}{{byIndex, byKey}, {byKey, byIndex}} {
		body := query.AppendCursorBody(nil, tc.from.Plan(), tc.from.Plan().Root, []byte{1, 2, 3})
		cur := query.FormatCursor(body, make([]byte, query.CursorTagLen))
		_, err := tc.to.Bind(map[string]any{"c": cur})
		if !errors.Is(err, query.ErrCursor) {
			t.Errorf("cursor of %q bound to %q: got %v, want ErrCursor", tc.from.Text(), tc.to.Text(), err)
		}
	}
}
