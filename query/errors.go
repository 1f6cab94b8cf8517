package query

import (
	"errors"
	"fmt"
)

// Sentinels wrapped by every *Error; test with errors.Is.
var (
	// ErrSyntax: the text is not in the language.
	ErrSyntax = errors.New("query: syntax error")
	// ErrInvalid: the query does not fit the schema (unknown table or
	// field, a literal of the wrong type, a misplaced argument, …).
	ErrInvalid = errors.New("query: invalid query")
	// ErrVariable: a variable given at execution is missing, unknown or of
	// the wrong type.
	ErrVariable = errors.New("query: bad variable")
	// ErrCursor: an after: cursor is malformed, altered, or was returned by
	// another query or database.
	ErrCursor = errors.New("query: bad cursor")
	// ErrLimit: the query is longer or nests deeper than Limits allow.
	ErrLimit = errors.New("query: over a limit")
)

// Error is a user's mistake in a query, its variables or its cursor: where
// it is, and what was expected there.
type Error struct {
	// Pos is the position in the query text (1-based line and column,
	// 0-based byte offset); Line is 0 when the error has no single place,
	// such as a variable given but not used.
	Pos Position
	// Msg says what is wrong and what was expected.
	Msg string
	// Err is the sentinel the error wraps.
	Err error
}

// Error renders "query: line:col: message".
func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return "query: " + e.Msg
	}
	return fmt.Sprintf("query: %d:%d: %s", e.Pos.Line, e.Pos.Column, e.Msg)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error at pos wrapping sentinel. The runtime uses it for
// the checks that need the database, such as a cursor's integrity.
// Messages quote names and literals clipped (see clip); as a last guard, a
// message longer than maxMsg bytes is cut.
func Errorf(pos Position, sentinel error, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: clipN(fmt.Sprintf(format, args...), maxMsg), Err: sentinel}
}

// maxMsg bounds an error message: several clipped quotes and a list of a
// message's field names fit.
const maxMsg = 4 << 10
