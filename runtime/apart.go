package runtime

import (
	"bytes"
	"context"
	"errors"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// Fields stored apart (schema.Field.Apart). A map or object field of a row
// may live in a key space of its own next to the table's rows: its keys are
// the colocated ones with the table element replaced by the field's apart
// element (schema.Table.AppendApartPrefix). The rest of the key, row key
// columns first, is unchanged, so the two layouts differ by a prefix swap,
// which preserves order.
//
// Refs address apart data by its stored (apart) key: a Ref of the field,
// and every Ref below it, works as it does for colocated data. The read
// engine works on colocated ("logical") keys throughout: when a projection
// enters an apart field, it reads it with a walker over the field's key
// space whose iterator presents each stored key as its logical one
// (apartIter), so the assembler, limits, cut cursors and resumption see
// the same keys either way. A row scan's walker never visits apart keys.
//
// A row exists when a key in its own range exists (its row key, written by
// every Put, or a colocated child): apart keys do not make a row exist. So
// that a write under an apart field of a missing row creates the row, as
// the same write creates it when the field is colocated, such writes read
// the row's range and write the row's empty key when it is empty: they are
// not blind, and run in a transaction. Deleting apart data never deletes
// the row.

// newTable returns the runtime table of t in db.
func newTable(db *DB, t *schema.Table) *Table {
	tb := &Table{db: db, s: t, prefix: t.AppendPrefix(bytes.Clone(db.ns))}
	for _, f := range t.Apart {
		tb.apart = append(tb.apart, t.AppendApartPrefix(bytes.Clone(db.ns), f))
	}
	return tb
}

// apartPrefix returns the store prefix of the apart field f's keys.
func (t *Table) apartPrefix(f *schema.Field) []byte {
	for i, a := range t.s.Apart {
		if a == f {
			return t.apart[i]
		}
	}
	panic("runtime: " + f.Path() + " is not stored apart") // the schema guarantees it
}

// apartKey returns a fresh key of field f's apart space for the logical
// key k (a row key or a key under it), with spare capacity for children.
func (t *Table) apartKey(f *schema.Field, k []byte) []byte {
	p := t.apartPrefix(f)
	b := make([]byte, 0, len(p)+len(k)-len(t.prefix)+64)
	return append(append(b, p...), k[len(t.prefix):]...)
}

// apartBound maps a bound of logical keys (nil: open) to the same bound in
// field f's apart space: keys under the table's prefix swap prefixes, keys
// before or after every row of the table become the ends of the space.
func (t *Table) apartBound(f *schema.Field, k []byte, upper bool) []byte {
	p := t.apartPrefix(f)
	switch {
	case k != nil && bytes.HasPrefix(k, t.prefix):
		return append(bytes.Clone(p), k[len(t.prefix):]...)
	case k == nil && !upper, k != nil && bytes.Compare(k, t.prefix) < 0:
		return bytes.Clone(p)
	}
	return tuple.PrefixEnd(p)
}

// deleteApart deletes the apart data of the rows of t in the logical row
// range [lo, hi).
func deleteApart(w kv.Writer, t *Table, lo, hi []byte) error {
	for _, f := range t.s.Apart {
		if err := w.DeleteRange(t.apartBound(f, lo, false), t.apartBound(f, hi, true)); err != nil {
			return err
		}
	}
	return nil
}

// rowOfApart returns the key of the row that a Ref under the apart field
// ref.apart belongs to.
func (r Ref) rowOfApart() ([]byte, error) {
	t := r.table
	p := t.apartPrefix(r.apart)
	logical := append(bytes.Clone(t.prefix), r.key[len(p):]...)
	n, err := t.rowKeyLen(logical)
	if err != nil {
		return nil, err
	}
	return logical[:n], nil
}

// ensureRow writes the empty row key of the row that ref, a Ref under a
// field stored apart, belongs to, when nothing of the row is stored: the
// upsert a colocated write does by writing under the row.
func ensureRow(ctx context.Context, txn kv.Txn, ref Ref) error {
	if ref.apart == nil {
		return nil
	}
	row, err := ref.rowOfApart()
	if err != nil {
		return err
	}
	it, err := txn.NewIter(ctx, kv.IterOptions{LowerBound: row, UpperBound: tuple.PrefixEnd(row)})
	if err != nil {
		return err
	}
	exists := it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if o, ok := rowObj(ref.table, row); ok {
		// The row enters its indexes with its default values (index.go).
		m := ref.table.db.NewMessage(ref.table.s.Desc)
		if err := ref.table.setKeyFields(row, m); err != nil {
			return err
		}
		d := newDelta(ref.table)
		d.entries(o, m, d.new)
		return d.apply(ctx, txn, txn, func() error { return txn.Set(row, nil) })
	}
	return txn.Set(row, nil)
}

// apartIter presents the keys of an iterator over an apart key space as
// the logical keys they stand for, and takes logical keys to seek to.
type apartIter struct {
	kv.Iterator
	phys, logical []byte // the space's prefix and the table's
	t             *Table
	f             *schema.Field
	key, seek     []byte
}

func (it *apartIter) toPhys(k []byte) []byte {
	switch {
	case bytes.HasPrefix(k, it.logical):
		it.seek = append(append(it.seek[:0], it.phys...), k[len(it.logical):]...)
	case bytes.Compare(k, it.logical) < 0:
		it.seek = append(it.seek[:0], it.phys...)
	default:
		it.seek, _ = tuple.AppendPrefixEnd(it.seek[:0], it.phys)
	}
	return it.seek
}

func (it *apartIter) SeekGE(k []byte) bool { return it.Iterator.SeekGE(it.toPhys(k)) }
func (it *apartIter) SeekLT(k []byte) bool { return it.Iterator.SeekLT(it.toPhys(k)) }

// Key returns the current key as its logical key, valid until the next
// call.
func (it *apartIter) Key() []byte {
	k := it.Iterator.Key()
	it.key = append(append(it.key[:0], it.logical...), k[len(it.phys):]...)
	return it.key
}

// apartWalk is an open walker over an apart field's key space.
type apartWalk struct {
	f *schema.Field
	w *walker
}

// apartWalker returns the forward walker over the apart field f's key
// space, opened on first use and kept until the execution is released.
func (e *exec) apartWalker(f *schema.Field) (*walker, error) {
	for _, a := range e.aparts {
		if a.f == f {
			return a.w, nil
		}
	}
	w, err := e.apartRange(f, nil, nil, false)
	if err != nil {
		return nil, err
	}
	e.aparts = append(e.aparts, apartWalk{f: f, w: w})
	return w, nil
}

// apartRange opens a walker over the logical range [lo, hi) of the apart
// field f's key space (nil: open).
func (e *exec) apartRange(f *schema.Field, lo, hi []byte, reverse bool) (*walker, error) {
	t := e.db.tables[f.Parent.Table.ID]
	it, err := e.r.NewIter(e.ctx, kv.IterOptions{LowerBound: t.apartBound(f, lo, false), UpperBound: t.apartBound(f, hi, true), Reverse: reverse})
	if err != nil {
		return nil, err
	}
	return e.walkerOn(&apartIter{Iterator: it, phys: t.apartPrefix(f), logical: t.prefix, t: t, f: f}), nil
}

// walkerLike opens a walker over [lo, hi) in the key space of like: an
// apart field's when like reads one, the store's otherwise.
func (e *exec) walkerLike(like *walker, lo, hi []byte, reverse bool) (*walker, error) {
	if like != nil {
		it := like.it
		if b, ok := it.(*batchIter); ok {
			it = b.underlying()
		}
		if ai, ok := it.(*apartIter); ok {
			return e.apartRange(ai.f, lo, hi, reverse)
		}
	}
	return e.walker(lo, hi, reverse)
}

// closeAparts closes the apart walkers of the execution into err (see
// walker.closeInto): a read that reports its iterators' Close errors
// closes them before the execution is released, which drops them.
func (e *exec) closeAparts(err *error) {
	for _, a := range e.aparts {
		a.w.closeInto(err)
	}
	clear(e.aparts)
	e.aparts = e.aparts[:0]
}

// rowAparts returns the apart fields of the row being read when the object
// at depth is that row, or nil.
func (e *exec) rowAparts(depth int) []*schema.Field {
	if depth != 0 {
		return nil
	}
	n := e.asm.stack[0].node
	if n == nil || n.Parent != nil {
		return nil
	}
	return n.Table.Apart
}

// wholeApart feeds every pair of the row at key from the key from on, in
// logical key order, merging the row's own range with the ranges of its
// apart fields. A key of an apart field found under the row is corruption.
func (e *exec) wholeApart(w *walker, key, from []byte, aparts []*schema.Field) error {
	ok := w.seekGE(from)
	var ck []byte
	i, at := 0, -1 // ck is the logical prefix of aparts[at]
	for {
		for i < len(aparts) {
			if at != i {
				ck, at = aparts[i].AppendElem(append(e.buf(1), key...)), i
				e.kb[1] = ck
				if end := tuple.PrefixEnd(ck); end != nil && bytes.Compare(end, from) <= 0 {
					i++ // before from: returned by the call that was cut
					continue
				}
			}
			if ok && bytes.HasPrefix(w.key, key) && bytes.Compare(w.key, ck) < 0 {
				break // row pairs come first
			}
			if ok && bytes.HasPrefix(w.key, ck) {
				return corrupt(w.key, "%s is stored apart, but this key is under the row", aparts[i].Path())
			}
			if err := e.feedApart(aparts[i], ck, from); err != nil {
				return err
			}
			i++
		}
		if !ok || !bytes.HasPrefix(w.key, key) {
			return e.err
		}
		if err := e.feed(w.key, w.val); err != nil {
			return err
		}
		ok = w.next()
	}
}

// feedApart feeds the pairs of the apart field f under the logical key
// prefix ck, from the key from on.
func (e *exec) feedApart(f *schema.Field, ck, from []byte) error {
	aw, err := e.apartWalker(f)
	if err != nil {
		return err
	}
	start := ck
	if bytes.Compare(from, ck) > 0 {
		start = from
	}
	for ok := aw.seekGE(start); ok && bytes.HasPrefix(aw.key, ck); ok = aw.next() {
		if err := e.feed(aw.key, aw.val); err != nil {
			return err
		}
	}
	return e.err
}

// applyApart is apply for a write that creates what ref addresses under a
// field stored apart: a transaction that also creates the row (ensureRow).
// Writes elsewhere are one blind batch (apply); the callers choose, so that
// there the write's closure and ref stay on the stack (write escapes here).
func (db *DB) applyApart(ctx context.Context, op string, ref Ref, write func(kv.Writer) error) error {
	ctx, ob := db.obs.start(ctx, spanNames[op], db.obs.writeDur)
	attempts := 0
	err := db.store.Update(ctx, func(txn kv.Txn) error {
		attempts++
		if err := write(txn); err != nil {
			return err
		}
		return ensureRow(ctx, txn, ref)
	})
	db.obs.endWrite(ctx, ob, op, &ref, attempts, err)
	return err
}
