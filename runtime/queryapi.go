package runtime

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/protoql/protoql/query"
	"google.golang.org/protobuf/proto"
)

// Executing compiled queries (package query). A query runs on one
// consistent snapshot and streams one message per root object, in key
// order (or reverse). Each message has the row's key fields and the
// selected fields set, nothing else: unselected inline fields are dropped
// from the values as they are read, and unselected objects, maps and
// breakout fields are never read.
//
// The reads follow the plan (query.Plan): one forward iterator per root
// scan walks each row's own key and then seeks to each selected child in
// field-number order, which is key order, so a row costs the keys it
// returns plus one seek per selected child. Reverse scans find each object
// with a reverse iterator (one key per object) and read it with the
// forward one. Joins gather the target keys of all the entries of a map
// (or of one object), sort them, and read the target rows with one
// iterator, seeking from key to key.

// QueryOption configures one Query call.
type QueryOption func(*queryOptions)

type queryOptions struct {
	limits    query.Limits
	cursorKey []byte
	rowChunk  int
}

// WithLimits bounds the call by the read limits of l: MaxRows, MaxKeys and
// MaxBytes (zero means unlimited). They are checked on every key the
// executor reads, inside an object as well as between rows, so one call's
// memory is bounded by MaxBytes (plus the largest stored pair) however
// large a row is: a row cut short by a limit is returned as far as it was
// read, marked Partial, and the LimitError's cursor resumes inside it (see
// LimitError). The context is checked on every key too.
//
// To guarantee progress, the key and byte limits apply once the call has
// returned its first pair, so a call always returns something. A row whose
// projection selects a join is not cut: its targets must fit in the limits
// with the row, else it is not returned and the cursor stays before it.
// The text limits of a query.Limits are Compile's and do nothing here.
func WithLimits(l query.Limits) QueryOption { return func(o *queryOptions) { o.limits = l } }

// WithRowChunk streams a row larger than bytes (the key and value bytes of
// its selected pairs) as several results: Partial ones of about bytes
// each, then the last piece, every one with a cursor that resumes after
// it (a piece that ends exactly at the row's end is still marked Partial:
// see Result.Partial). A call then holds one piece of a row at a time, not the whole row,
// and a row too large for one message can still be sent. Rows whose
// projection selects a join are not split. Zero (the default) returns
// every row whole.
func WithRowChunk(bytes int) QueryOption { return func(o *queryOptions) { o.rowChunk = bytes } }

// WithCursorKey signs and checks cursors with key instead of the secret the
// DB keeps in its metadata (see cursor.go). The key must be at least 32
// bytes (the length of the secret protoql generates; use random bytes): a
// query given a shorter one, even an empty one, fails with an error
// matching ErrInvalid before reading anything. A nil key means the DB's
// own secret.
func WithCursorKey(key []byte) QueryOption {
	return func(o *queryOptions) { o.cursorKey = key }
}

// Result is one root object of a query.
type Result struct {
	// Msg is the row: the table's Go type when it is linked in, else a
	// dynamicpb message.
	Msg proto.Message
	// MapCursors holds, for each map page of this row that first: cut
	// short, the cursor to pass as that map's after: to read on. Keys are
	// the map's path in the row, such as "sessions" or
	// `sessions["s1"].attrs`. Nil when no page was cut; maps inside join
	// targets are not reported.
	MapCursors map[string]string
	// Partial marks a piece of a row: the row's key fields and the next
	// part of the row, nothing twice, with a Cursor that resumes inside the
	// row. A row cut short by a limit is the last result before the
	// LimitError; the first result of the query resumed from its cursor
	// holds the rest. With WithRowChunk, pieces also come mid-stream, and
	// the results after one hold the rest of the row — except when a piece
	// happens to end exactly where its row does: it is still marked
	// Partial (the end is found only when reading on), and the next result
	// is the next row, so compare key fields before merging (the server's
	// QueryResponse.partial does, and is exact). MergeRow puts pieces
	// together.
	Partial bool
	// cursor is signed by Cursor, only when asked for.
	cursor rowCursor
}

// Cursor returns the cursor that resumes the query after this row (inside
// it, when Partial): pass it as the root's after: argument (typically
// through a variable). It is signed (HMAC-SHA256) on each call, not while
// the query runs, so a scan that never resumes pays nothing for cursors;
// call it once per result you need it for. It is valid after the query
// ended, and safe for concurrent use.
func (r Result) Cursor() string { return r.cursor.String() }

// ErrLimit is wrapped by the LimitError that ends a query stopped by its
// limits.
var ErrLimit = errors.New("runtime: query limit reached")

// LimitError ends a query that reached one of its limits (WithLimits) before
// its end. Every result before it is complete but the last, which is Partial
// when the limit cut it; resume with Cursor as the root's after: argument (with
// a variable: the query's fingerprint ignores after:). Cursor is the last
// result's, or, when the call returned none, the after: cursor it was given; it
// is empty only when a first call returned nothing, which happens only for a
// first row with joins larger than the limits (resuming would start over: it
// needs a larger limit).
type LimitError struct {
	// Limit names the limit: "rows", "keys" or "bytes".
	Limit string
	// Max is its value.
	Max int
	// Cursor resumes after what was returned, inside the last row when it
	// is Partial.
	Cursor string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("runtime: query limit reached: more than %d %s; resume with after: set to the cursor of the last result (LimitError.Cursor)", e.Max, e.Limit)
}

// Unwrap makes LimitError match ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Query runs q with vars bound (see query.Query.Bind) on one consistent
// snapshot of the DB, streaming one Result per root object. The snapshot
// is held until the sequence ends or the caller stops ranging. An error
// ends the sequence: a bad variable or cursor (*query.Error), a
// *LimitError, a corruption error, or the store's.
func (db *DB) Query(ctx context.Context, q *query.Query, vars map[string]any, opts ...QueryOption) iter.Seq2[Result, error] {
	return db.query(ctx, nil, q, vars, opts)
}

// Query runs q on the transaction's snapshot (and, in Update, its own
// writes); see DB.Query.
func (tx *Tx) Query(ctx context.Context, q *query.Query, vars map[string]any, opts ...QueryOption) iter.Seq2[Result, error] {
	return tx.db.query(ctx, tx.r, q, vars, opts)
}
