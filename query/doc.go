// Package query is protoql's query language (DESIGN.md §5): text → AST
// with positions (participle grammar, internal/grammar) → checked against a
// schema.Catalog → a Plan, which is data: the key ranges to read and the
// fields to return. The package never touches a store; package runtime
// executes plans (runtime.DB.Query).
//
//	query      := selection
//	selection  := [ alias ":" ] name [ keys ] [ args ] [ "{" { selection [","] } "}" ]
//	keys       := "[" keyexpr { "," keyexpr } "]"
//	keyexpr    := value | value ".." value | value ".." | ".." value
//	args       := "(" arg { "," arg } ")"
//	arg        := name ":" value
//	value      := string | int | "true" | "false" | "$" name
//
// Examples:
//
//	User["alice"] { registered, sessions { expires_us } }
//	User["a".."m"](first: 10) { user_id }
//	User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }
//	User["alice"] { threads { thread { body } } }
//
// # Secondary indexes
//
// A name may end in ".index" to read through a secondary index: at the
// root, Table.index reads the table's rows through its index; on a map
// field, map.index reads the map's entries through the map's index:
//
//	Account.by_email["a@b.c"] { name }
//	Account.by_age[30, "a".."n"](first: 10) { name }
//	Account[$org, $id] { tasks.by_done[false](first: 10) { text } }
//
// The keys give values for the index's columns exactly as for primary
// keys: any prefix of them, each a point except the last given, which may
// be a range; no keys reads the whole index. first, after and reverse
// work as on keys, with the index's order; the projection and joins are
// those of the row or entry. The grammar is unchanged: names are already
// dot-separated (fully qualified table names), and the checker splits the
// index off when the whole name is not a table. All columns of a unique
// index given as points is a get (one index key, then one row); any other
// access is a scan of index entries and lookups of the rows or entries
// they name, batched (IndexLookupBatch) and read in key order. A cursor
// of an index scan holds the index entry, so it is refused by any other
// query, a scan of the same table by key included (see Explain for the
// keys read).
//
// # Use
//
// Compile once, bind and run many times, from many goroutines:
//
//	q, err := query.Compile(db.Catalog(), `User[$id] { registered }`)
//	for res, err := range db.Query(ctx, q, map[string]any{"id": "alice"}) { … }
//
// Errors are *Error values reading "query: line:col: message", each naming
// what was expected, and wrapping ErrSyntax, ErrInvalid, ErrVariable,
// ErrCursor or ErrLimit. Messages quote names and literals clipped to a
// few dozen bytes, so they never echo a long input back.
//
// # Limits
//
// Compile and Parse take untrusted text: the query service compiles what
// its clients send. Limits (DefaultLimits unless WithLimits says
// otherwise) bound it before any work that could grow with it: the text
// is refused when longer than MaxTextBytes (64 KiB), then when it is not
// UTF-8, and the parser refuses a selection {…} nested deeper than
// MaxDepth (32, at most MaxDepthLimit) before descending into it. Within
// them, parsing, checking and Explain take time and memory linear in the
// text with small constants, and a result nests at most about 2·MaxDepth
// messages deep below its row, well within what protobuf-go decodes. The
// same Limits value carries the read limits (rows, keys, bytes) of a run,
// which runtime.WithLimits applies.
//
// # Semantics and decisions
//
//   - The root names a table by short or full message name. Its keys give
//     a prefix of the key columns, each a point except the last, which may
//     be a half-open range [lo, hi) in value order (a descending column's
//     range covers the same values; its bytes are swapped). No keys: the
//     whole table. A map field's keys select one entry or a range.
//   - Literals are typed by the schema: an int literal on a uint32 column
//     must fit a uint32, a string on an int64 column is an error. Strings
//     use Go escapes and also write bytes keys and enum keys by value name
//     ("FOLDER_INBOX"); enums also take their number. The text itself is
//     UTF-8: a bytes key's other bytes are written as escapes ("a\xffb").
//   - Arguments first (1 to 2^31-1), after (a cursor; "" is the first
//     page) and reverse (true/false) apply to the root and to map fields.
//   - A field without {…} is returned whole: a message or map field with
//     its whole stored subtree. Join fields store nothing and are followed
//     only when selected (so a whole row never pulls in other tables, and
//     cycles between tables cannot loop). A selected join without {…}
//     returns the target row whole.
//   - {…} applies to object fields, maps of messages (each entry) and
//     joins. Inline and breakout message fields are stored whole under one
//     value and are returned whole: a {…} on them is an error rather than a
//     filter that would read the same bytes anyway.
//   - Key fields of every row (root or join target) are always returned;
//     map entries always carry their key. Unselected inline fields are
//     cleared; unselected objects, maps and breakouts are never read.
//   - A field may be selected once: a protobuf result holds one value per
//     field. Aliases label selections in Explain (and tools' output); the
//     results use field names.
//   - $name variables are typed by their uses, which must agree; Bind
//     checks each value given and refuses missing and unknown variables.
//
// # Cursors
//
// A result's cursor (see cursor.go for the format) resumes the scan after
// it. Cursors are tied to the query's fingerprint, which ignores spacing,
// comments, aliases and the first and after arguments: the same query
// with another page size accepts them, any other query refuses them. The
// runtime authenticates them with a MAC under a secret of the database.
package query
