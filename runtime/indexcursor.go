package runtime

import (
	"bytes"
	"fmt"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Index scan cursors resume typed index scans (TableIndex and MapIndex
// Find and Scan, ScanOptions.After). The position is the last index
// entry returned: the entry's key (its values, then the row's key columns
// or the map entry's key; a unique index's entry is its values alone),
// without the DB's namespace, in a scan cursor (scancursor.go) whose
// version byte is indexCursorVersion, so neither kind of scan takes the
// other's cursor. Resuming continues strictly after that entry, in the
// scan's direction: rows with equal values continue in key order, and a
// row met through several elements of a repeated field continues after
// the element it was returned for.
const indexCursorVersion = 0x49

// indexCursor returns the cursor of the index entry key (with the DB's
// namespace).
func (db *DB) indexCursor(key []byte) string {
	body := make([]byte, 0, 1+len(key)-len(db.ns))
	body = append(body, indexCursorVersion)
	body = append(body, key[len(db.ns):]...)
	return query.FormatCursor(body, newCursorSigner(db.cursorSecret).tag(body))
}

// indexAfter checks the ScanOptions.After cursor of a scan of ix under
// prefix (the index's entries in the scanned namespace, or under the
// scanned map's holding object) and narrows the entries [lo, hi) to those
// after its position. It returns ok false when none are left.
func (db *DB) indexAfter(ix *schema.Index, cursor string, lo, hi []byte, reverse bool, prefix []byte, base int) ([]byte, []byte, bool, error) {
	at, err := db.signedPosition(cursor, indexCursorVersion, "the cursor of an index scan's result (take it from the index's Cursor or CursorAt; a query's cursor goes in its after: argument)")
	if err != nil {
		return nil, nil, false, err
	}
	var e exec
	if n, err := e.indexEntryLen(ix, at, base); err != nil || n != len(at) {
		return nil, nil, false, fmt.Errorf("%w: ScanOptions.After is the cursor of key %s, not of an entry of index %s: %w", ErrInvalid, kv.KeyText(at), ix.Path(), query.ErrCursor)
	}
	if !bytes.HasPrefix(at, prefix) {
		// The same map index under another object (an entry of the same
		// shape), which the bounds would clamp to the start or the end.
		return nil, nil, false, fmt.Errorf("%w: ScanOptions.After is the cursor of entry %s, not under %s, where this scan of index %s reads: %w", ErrInvalid, kv.KeyText(at), kv.KeyText(prefix), ix.Path(), query.ErrCursor)
	}
	lo, hi, ok := schema.After(lo, hi, at, reverse)
	return lo, hi, ok, nil
}

// entryCursor returns the cursor of the entry of ix that m, the object
// stored at key (owner: the length of the holding object's key, for a
// map-scoped index), has for vals, or for its only entry when vals is
// nil.
func entryCursor(db *DB, ix *schema.Index, key []byte, owner int, m proto.Message, vals []protoreflect.Value, node *schema.Node) (string, error) {
	pm := m.ProtoReflect()
	if pm.Descriptor() != node.Desc {
		var err error
		if pm, err = db.convert(m, node.Desc); err != nil {
			return "", invalid("cursor in index %s: %v", ix.Path(), err)
		}
	}
	ns := db.ns
	keys := ix.Keys(ns, key, owner, pm)
	if vals != nil {
		if len(vals) != len(ix.Columns) {
			// A values function listing a prefix of the columns (a view
			// for Find) names no one entry.
			return "", invalid("index %s has %d columns; CursorAt was given %d values (it needs one per column; Cursor needs none for an object with one entry)", ix.Path(), len(ix.Columns), len(vals))
		}
		for i, c := range ix.Columns {
			if err := c.Column.Check(vals[i]); err != nil {
				return "", invalidKey(err, "index %s column %s", ix.Path(), c.Column.Name())
			}
		}
		prefix := ix.AppendPrefix(bytes.Clone(ns), nil)
		if ix.Map != nil {
			prefix = ix.AppendPrefix(nil, key[:owner])
		}
		k, _ := ix.Entry(prefix, vals, ix.Target(key[len(ns):], owner-len(ns)))
		for _, e := range keys {
			if bytes.Equal(e[0], k) {
				return db.indexCursor(k), nil
			}
		}
		return "", invalid("%s has no entry in index %s for the values %s", kv.KeyText(key), ix.Path(), formatVals(vals))
	}
	switch len(keys) {
	case 1:
		return db.indexCursor(keys[0][0]), nil
	case 0:
		return "", invalid("%s has no entry in index %s (an indexed field with presence is unset, or a repeated one empty)", kv.KeyText(key), ix.Path())
	}
	return "", invalid("%s has %d entries in index %s (one per element of its repeated field): name the values with CursorAt", kv.KeyText(key), len(keys), ix.Path())
}
