package runtime

import (
	"context"

	"github.com/protoql/protoql/tuple"
)

// Counting, for tools that report what a delete removed: run the count
// and the delete in one Update, so the number is exactly what the delete
// removed. A count visits one key per object and seeks past the rest of
// each object's subtree, so it costs one seek per object counted whatever
// the objects hold.

// CountRows returns how many rows of t lie in r, on the transaction's
// snapshot.
func (tx *Tx) CountRows(ctx context.Context, t *Table, r KeyRange) (int, error) {
	lo, hi, err := t.bounds(r)
	if err != nil {
		return 0, err
	}
	return tx.countUnits(ctx, lo, hi, unitKind{table: t})
}

// CountEntries returns how many entries of the map at ref have keys in r,
// on the transaction's snapshot.
func (tx *Tx) CountEntries(ctx context.Context, ref Ref, r KeyRange) (int, error) {
	lo, hi, err := ref.mapBounds(r)
	if err != nil {
		return 0, err
	}
	return tx.countUnits(ctx, lo, hi, unitKind{parentLen: ref.parentLen})
}

// Exists reports whether anything is stored at ref: a row, an object, a
// map entry or a breakout field with at least one key, or a map with at
// least one entry.
func (tx *Tx) Exists(ctx context.Context, ref Ref) (bool, error) {
	if ref.table == nil {
		return false, invalid("Exists of a zero Ref")
	}
	e := tx.db.reader(ctx, tx.r)
	defer e.release()
	w, err := e.under(ref.key)
	if err != nil {
		return false, err
	}
	found := w.first()
	err = e.err
	// The iterator's Close error (a store that could not release it) is
	// the answer's when it has none of its own.
	if w.closeInto(&err); err != nil {
		return false, err
	}
	return found, nil
}

// countUnits counts the units of kind in [lo, hi), stepping from each to
// the next without reading it.
// The iterators' Close errors are the count's when it has none of its
// own.
func (tx *Tx) countUnits(ctx context.Context, lo, hi []byte, kind unitKind) (n int, err error) {
	e := tx.db.reader(ctx, tx.r)
	defer e.release()
	var s stepper
	err = e.steps(&s, nil, lo, hi, false, kind, 0, nil)
	defer func() {
		if s.closeInto(&err); err != nil {
			n = 0
		}
	}()
	if err != nil {
		return 0, err
	}
	ok, err := s.first()
	for ; ok; ok, err = s.next() {
		n++
	}
	return n, err
}

// skipElements returns the length of key up to count elements after off.
func skipElements(key []byte, off, count int) (int, error) {
	for range count {
		if off >= len(key) {
			return 0, corrupt(key, "key ends before its object's key")
		}
		n, err := tuple.SkipElement(key[off:])
		if err != nil {
			return 0, corrupt(key, "%v", err)
		}
		off += n
	}
	return off, nil
}
