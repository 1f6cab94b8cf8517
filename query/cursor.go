package query

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Cursors. A result's cursor is the position just after it in the scan
// that produced it; passed back as after: it resumes there. The text is
// base64url (no padding) of
//
//	version (1 byte, 1) | fingerprint (8) | access id (uvarint) | position | tag (16)
//
// where the fingerprint is the Plan's (so a cursor is refused by any other
// query), the access id says which scan it resumes (the root is 0, each
// map its own), and the position is a key: for the root, the row key
// relative to the database's namespace; for a map, the entry's key element
// relative to the object holding the map. The tag is a MAC computed by the
// runtime over everything before it with a secret of the database: the
// query package checks the format and the fingerprint, the runtime checks
// the tag. A position taken from a cursor is also clamped to the query's
// key range, so even a forged cursor could not read outside it.
const (
	cursorVersion = 1
	// CursorTagLen is the length of a cursor's MAC.
	CursorTagLen = 16
)

// Cursor is a decoded cursor.
type Cursor struct {
	// Fingerprint is the fingerprint of the query that returned it.
	Fingerprint [8]byte
	// Access is the ID of the Access it resumes.
	Access int
	// Key is the position (see the package doc).
	Key []byte
	// Body is what the tag authenticates; Tag is the tag.
	Body, Tag []byte
}

var cursorEncoding = base64.RawURLEncoding

// AppendCursorBody appends the authenticated part of the cursor resuming
// access a of plan p after position key.
func AppendCursorBody(dst []byte, p *Plan, a *Access, key []byte) []byte {
	dst = append(dst, cursorVersion)
	dst = append(dst, p.Fingerprint[:]...)
	dst = binary.AppendUvarint(dst, uint64(a.ID))
	return append(dst, key...)
}

// FormatCursor returns the text of the cursor with this body and tag.
func FormatCursor(body, tag []byte) string {
	b := make([]byte, cursorEncoding.EncodedLen(len(body)+len(tag)))
	raw := append(body[:len(body):len(body)], tag...)
	cursorEncoding.Encode(b, raw)
	return string(b)
}

// ParseCursor decodes a cursor's text. It checks the format only: the
// fingerprint and access are checked against a plan by Bind and Compile,
// the tag by the runtime.
func ParseCursor(s string) (Cursor, error) {
	raw, err := cursorEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("not base64url: %v", err)
	}
	if len(raw) < 1+8+1+CursorTagLen {
		return Cursor{}, fmt.Errorf("too short: %d bytes", len(raw))
	}
	if raw[0] != cursorVersion {
		return Cursor{}, fmt.Errorf("version %d; this build reads version %d", raw[0], cursorVersion)
	}
	var c Cursor
	body := raw[:len(raw)-CursorTagLen]
	c.Body, c.Tag = body, raw[len(body):]
	copy(c.Fingerprint[:], body[1:9])
	id, n := binary.Uvarint(body[9:])
	if n <= 0 || id > 1<<20 {
		return Cursor{}, fmt.Errorf("bad access id")
	}
	c.Access, c.Key = int(id), body[9+n:]
	return c, nil
}

// checkCursor parses s and checks that it resumes access a of plan p. The
// empty string is "no cursor": the first page.
func checkCursor(s string, p *Plan, a *Access, op *Operand) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	c, err := ParseCursor(s)
	if err != nil {
		return nil, Errorf(op.Pos, ErrCursor, "after: not a cursor of this query (%v)", err)
	}
	if c.Fingerprint != p.Fingerprint {
		return nil, Errorf(op.Pos, ErrCursor, "after: the cursor was returned by another query; a cursor resumes only the query that returned it")
	}
	if c.Access != a.ID {
		where := "another map"
		if c.Access < len(p.Accesses) {
			where = clipPath(p.Accesses[c.Access].Path)
		}
		return nil, Errorf(op.Pos, ErrCursor, "after: the cursor resumes %s, not %s", where, clipPath(a.Path))
	}
	return &c, nil
}
