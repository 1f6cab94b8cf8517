package runtime

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"fmt"

	"github.com/protoql/protoql/query"
)

// Scan cursors resume typed scans (ScanOptions.After) the way query cursors
// resume queries: opaque base64url text, tamper-checked with the DB's
// cursor secret (see cursor.go). The body is a version byte that no query
// cursor has, then the position: the key of the last row or entry
// returned, without the DB's namespace. The tag covers both. A scan clamps
// the position to its own key range, so a cursor moved to another scan (or
// a leaked secret) never widens what that scan reads; the tag keeps a
// client from making up positions, and from reading the keys of rows it
// was not shown out of a cursor it cannot decode either way.
const scanCursorVersion = 0x53

// ScanCursor returns the cursor that resumes a Scan or ScanMap right after
// ref's row or map entry, in either direction (ScanOptions.After). It does
// no I/O. The typed handles' Cursor methods return the same text. ref must
// be a row or a map entry of this DB.
func (db *DB) ScanCursor(ref Ref) (string, error) {
	switch {
	case ref.table == nil:
		return "", invalid("ScanCursor of a zero Ref")
	case ref.table.db != db:
		return "", invalid("ScanCursor of %s, a Ref of another DB", ref)
	case ref.kind != RefRow && ref.kind != RefEntry:
		return "", invalid("ScanCursor of %s: scans return rows and map entries only", ref)
	}
	body := make([]byte, 0, 1+len(ref.key)-len(db.ns))
	body = append(body, scanCursorVersion)
	body = append(body, ref.key[len(db.ns):]...)
	return query.FormatCursor(body, newCursorSigner(db.cursorSecret).tag(body)), nil
}

// scanPosition checks a ScanOptions.After cursor and returns the key it
// resumes after.
func (db *DB) scanPosition(cursor string) ([]byte, error) {
	return db.signedPosition(cursor, scanCursorVersion, "a scan cursor (take it from Cursor or DB.ScanCursor; a query's cursor goes in its after: argument)")
}

// signedPosition checks a cursor of the given version byte and returns
// the key (with the namespace) it holds; what says what the cursor should
// have been.
func (db *DB) signedPosition(cursor string, version byte, what string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 1+query.CursorTagLen || raw[0] != version {
		return nil, fmt.Errorf("%w: ScanOptions.After is not %s: %w", ErrInvalid, what, query.ErrCursor)
	}
	body, tag := raw[:len(raw)-query.CursorTagLen], raw[len(raw)-query.CursorTagLen:]
	if !hmac.Equal(tag, newCursorSigner(db.cursorSecret).tag(body)) {
		return nil, fmt.Errorf("%w: ScanOptions.After failed its integrity check: it was altered, or issued by another database: %w", ErrInvalid, query.ErrCursor)
	}
	return append(bytes.Clone(db.ns), body[1:]...), nil
}
