package runtime

import (
	"bytes"
	"context"

	"github.com/protoql/protoql/kv"
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
	return countUnits(ctx, tx.r, lo, hi, func(key []byte) (int, error) {
		return skipElements(key, len(t.prefix), len(t.s.Key))
	})
}

// CountEntries returns how many entries of the map at ref have keys in r,
// on the transaction's snapshot.
func (tx *Tx) CountEntries(ctx context.Context, ref Ref, r KeyRange) (int, error) {
	lo, hi, err := ref.mapBounds(r)
	if err != nil {
		return 0, err
	}
	return countUnits(ctx, tx.r, lo, hi, func(key []byte) (int, error) {
		return skipElements(key, ref.parentLen, 1)
	})
}

// Exists reports whether anything is stored at ref: a row, an object, a
// map entry or a breakout field with at least one key, or a map with at
// least one entry.
func (tx *Tx) Exists(ctx context.Context, ref Ref) (bool, error) {
	if ref.table == nil {
		return false, invalid("Exists of a zero Ref")
	}
	n, err := countUnits(ctx, tx.r, ref.key, tuple.PrefixEnd(ref.key), func([]byte) (int, error) { return len(ref.key), nil })
	return n > 0, err
}

// countUnits counts the distinct key prefixes (of the length unitLen
// returns) in [lo, hi).
func countUnits(ctx context.Context, rd kv.Reader, lo, hi []byte, unitLen func([]byte) (int, error)) (int, error) {
	if bytes.Compare(lo, hi) >= 0 {
		return 0, nil
	}
	it, err := rd.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		key := it.Key()
		l, err := unitLen(key)
		if err != nil {
			return n, err
		}
		n++
		next := tuple.PrefixEnd(key[:l])
		if next == nil {
			break
		}
		ok = it.SeekGE(next)
	}
	return n, it.Error()
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
