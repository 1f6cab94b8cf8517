package runtime

import (
	"context"
	"iter"

	"github.com/protoql/protoql/query"
	"google.golang.org/protobuf/proto"
)

// Row is a query result typed as the root table's Go message.
type Row[T proto.Message] struct {
	// Msg is the row, with only the selected fields set (key fields always).
	Msg T
	// Cursor resumes the query after this row (see Result.Cursor).
	Cursor string
	// MapCursors resume map pages cut short by first: (see
	// Result.MapCursors).
	MapCursors map[string]string
	// Partial marks a row cut short by a limit (see Result.Partial).
	Partial bool
}

// CompileFor compiles text against the DB's schema and checks that its
// root is the table t, so that generated typed tables can refuse a query on
// another table at compile time rather than when results arrive.
func CompileFor(t *Table, text string) (*query.Query, error) {
	q, err := query.Compile(t.db.cat, text)
	if err != nil {
		return nil, err
	}
	if root := q.Plan().Table; root.ID != t.s.ID {
		return nil, invalid("query on table %s, not %s", root.Desc.Name(), t.s.Desc.Name())
	}
	return q, nil
}

// QueryAs runs q on qr (a *DB or a *Tx) like DB.Query and yields each
// result as a T, the root table's linked Go type. A result of another type
// (a query on another table, or a DB opened without the linked descriptor)
// is an error that ends the sequence.
func QueryAs[T proto.Message](ctx context.Context, qr Querier, q *query.Query, vars map[string]any, opts ...QueryOption) iter.Seq2[Row[T], error] {
	return func(yield func(Row[T], error) bool) {
		for res, err := range qr.Query(ctx, q, vars, opts...) {
			if err != nil {
				yield(Row[T]{}, err)
				return
			}
			m, ok := res.Msg.(T)
			if !ok {
				var want T
				yield(Row[T]{}, invalid("query result is a %T, not a %T: the query's root is another table, or the DB was not opened with the linked descriptor", res.Msg, want))
				return
			}
			if !yield(Row[T]{Msg: m, Cursor: res.Cursor, MapCursors: res.MapCursors, Partial: res.Partial}, nil) {
				return
			}
		}
	}
}
