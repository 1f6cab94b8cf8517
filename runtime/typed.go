package runtime

import "google.golang.org/protobuf/proto"

// Row is a query result typed as the root table's Go message.
type Row[T proto.Message] struct {
	// Msg is the row, with only the selected fields set (key fields always).
	Msg T
	// MapCursors resume map pages cut short by first: (see
	// Result.MapCursors).
	MapCursors map[string]string
	// Partial marks a row cut short by a limit (see Result.Partial).
	Partial bool
	cursor  rowCursor
}

// Cursor returns the cursor that resumes the query after this row (see
// Result.Cursor, which it is).
func (r Row[T]) Cursor() string { return r.cursor.String() }

// TypedRow returns res as a Row of T; false when res.Msg is not a T.
// (Generated code's typed queries use it, through package protoqlimpl.)
func TypedRow[T proto.Message](res Result) (Row[T], bool) {
	m, ok := res.Msg.(T)
	if !ok {
		return Row[T]{}, false
	}
	return Row[T]{Msg: m, MapCursors: res.MapCursors, Partial: res.Partial, cursor: res.cursor}, true
}
