package runtime_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// TestQueryGolden runs testdata/exec.txt over qExampleData: "query
// name=value…" prints each result (key order) and the map cursors
// returned, or the error.
func TestQueryGolden(t *testing.T) {
	db := qExampleDB(t)
	cat := db.Catalog()
	golden.RunFile(t, "testdata/exec.txt", func(t *testing.T, c *golden.Case) string {
		q, err := query.Compile(cat, c.Input)
		if err != nil {
			return err.Error()
		}
		var sb strings.Builder
		for res, err := range db.Query(context.Background(), q, qVars(t, c), runtime.WithCursorKey(querytest.CursorKey)) {
			if err != nil {
				sb.WriteString("error: " + err.Error() + "\n")
				break
			}
			sb.WriteString(querytest.Text(res.Msg.ProtoReflect()) + "\n")
			for _, k := range slices.Sorted(mapsKeys(res.MapCursors)) {
				sb.WriteString("  more " + k + "\n")
			}
		}
		if sb.Len() == 0 {
			return "(no results)"
		}
		return sb.String()
	})
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// qVars reads name=value arguments: a quoted string, true/false, or an
// integer.
func qVars(t *testing.T, c *golden.Case) map[string]any {
	vars := map[string]any{}
	for _, a := range c.Args {
		name, v, ok := strings.Cut(a, "=")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(v, `"`):
			s, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("%s: %v", c.Pos, err)
			}
			vars[name] = s
		case v == "true" || v == "false":
			vars[name] = v == "true"
		default:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", c.Pos, err)
			}
			vars[name] = n
		}
	}
	return vars
}
