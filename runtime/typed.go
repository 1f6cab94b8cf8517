package runtime

import "google.golang.org/protobuf/proto"

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
