package runtime

import (
	"bytes"
	"context"
	"errors"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The write paths with index maintenance. Each xxxIndexed predicate says,
// from the schema alone, whether the write must read to keep indexes in
// step; when it does not, the plain write path (write.go) runs, blind.

// putIndexed reports whether a Put at ref changes index entries.
func (ref Ref) putIndexed() bool {
	switch ref.kind {
	case RefRow:
		return len(ref.table.s.Indexes) > 0 || ref.node.HoldsIndexes
	case RefEntry:
		return len(ref.field.Indexes) > 0 || (ref.node != nil && ref.node.HoldsIndexes)
	case RefObject:
		return ref.node.HoldsIndexes
	}
	return false
}

// deleteIndexed reports whether a Delete at ref must read.
func (ref Ref) deleteIndexed() bool {
	switch ref.kind {
	case RefRow:
		return len(ref.table.s.Indexes) > 0
	case RefEntry:
		return len(ref.field.Indexes) > 0
	case RefBreakout:
		_, ok := breakoutObj(ref)
		return ok
	}
	return false
}

// setIndexed reports whether SetValue at ref must read.
func (ref *Ref) setIndexed() bool {
	if ref.kind != RefBreakout || (len(ref.table.s.Indexes) == 0 && !ref.table.s.Root.HoldsIndexes) {
		return false // not a breakout, or a table without an index
	}
	_, ok := breakoutObj(*ref)
	return ok
}

// rangeIndexed reports whether DeleteRange on the map at ref must read.
func (ref Ref) rangeIndexed() bool { return ref.kind == RefMap && len(ref.field.Indexes) > 0 }

// rowsIndexed reports whether DeleteRows on t must read.
func rowsIndexed(t *Table) bool { return len(t.s.Indexes) > 0 }

// inlineObj returns the indexed object whose own value ref addresses.
func inlineObj(ref Ref) (idxObj, bool) {
	switch ref.kind {
	case RefRow:
		return rowObj(ref.table, ref.key)
	case RefEntry:
		if ref.field.Child != nil {
			return entryObj(ref.table, ref.field, ref.key, ref.parentLen)
		}
	}
	return idxObj{}, false
}

// breakoutObj returns the indexed object that a breakout Ref belongs to,
// when one of its indexes names the breakout field.
func breakoutObj(ref Ref) (idxObj, bool) {
	f := ref.field
	n := f.Parent
	var tag [16]byte // a tag's bytes (at most 9), on the stack
	parent := ref.key[:len(ref.key)-len(tuple.AppendUnit(tag[:0], uint32(f.Number())))]
	var o idxObj
	var ok bool
	switch {
	case n.Parent == nil:
		o, ok = rowObj(ref.table, parent)
	case n.Parent.Storage == schema.Map:
		start, err := lastElemStart(parent, len(ref.table.prefix))
		if err != nil {
			return idxObj{}, false
		}
		o, ok = entryObj(ref.table, n.Parent, parent, start)
	}
	return o, ok && containsField(indexedBreakouts(o.indexes), f)
}

// lastElemStart returns where the last element of key starts, walking the
// elements from off.
func lastElemStart(key []byte, off int) (int, error) {
	last := off
	for off < len(key) {
		n, err := tuple.SkipElement(key[off:])
		if err != nil {
			return 0, err
		}
		last, off = off, off+n
	}
	return last, nil
}

// putIx is put with index maintenance; r reads the state before the write
// (nil: the write is blind, see putIndexed). own is put's. d, if not nil,
// is the delta to use (putCall's), which putIx resets; nil: a new one.
func putIx(ctx context.Context, r kv.Reader, w kv.Writer, ref Ref, m proto.Message, own bool, d *idxDelta) error {
	if r == nil || !ref.putIndexed() {
		return put(w, ref, m, own)
	}
	if err := ref.wantObject(m); err != nil {
		return err
	}
	if ref.keyErr != nil {
		return ref.keyErr
	}
	if d == nil {
		d = newDelta(ref.table)
	} else {
		d.reset(ref.table)
	}
	if len(ref.node.Children) > 0 {
		d.spans = append(d.spans, [2][]byte{ref.key, tuple.PrefixEnd(ref.key)})
	}
	pm := m.ProtoReflect()
	if pm.Descriptor() != ref.node.Desc {
		// A generated message on a DB opened from its stored schema: the
		// index values are read with the schema's descriptors.
		var err error
		if pm, err = ref.table.db.convert(m, ref.node.Desc); err != nil {
			return invalid("%s: %v", ref, err)
		}
	}
	if o, ok := inlineObj(ref); ok {
		if _, _, err := d.loadOld(ctx, r, o); err != nil {
			return err
		}
		// A row's m holds its key fields: put refuses it otherwise.
		d.entries(o, pm, d.new)
	}
	d.subtree(ref.key, ref.node, pm)
	return d.apply(ctx, r, w, func() error { return putIn(w, ref, m, own, d.kb[:0], d.vb[:0]) })
}

// subtree adds the entries of the map-scoped indexes at and below the
// object at key (layout n, value m), which a Put writes anew.
func (d *idxDelta) subtree(key []byte, n *schema.Node, m protoreflect.Message) {
	if n == nil || !n.HoldsIndexes {
		return
	}
	fields := m.Descriptor().Fields()
	for _, f := range n.Children {
		if f.Child == nil || !f.Child.HoldsIndexes && len(f.Indexes) == 0 {
			continue
		}
		fd := fields.ByNumber(f.Number())
		if fd == nil || !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		if f.Storage == schema.Object {
			d.subtree(f.AppendElem(bytes.Clone(key)), f.Child, v.Message())
			continue
		}
		v.Map().Range(func(mk protoreflect.MapKey, mv protoreflect.Value) bool {
			ek := f.Key.Append(bytes.Clone(key), mk.Value())
			if o, ok := entryObj(d.t, f, ek, len(key)); ok {
				d.entries(o, mv.Message(), d.new)
			}
			d.subtree(ek, f.Child, mv.Message())
			return true
		})
	}
}

// delIx is del with index maintenance.
func delIx(ctx context.Context, r kv.Reader, w kv.Writer, ref Ref) error {
	if ref.kind == RefMap && len(ref.field.Indexes) > 0 {
		// The map's index entries lie under one prefix of the owner: a
		// blind range delete removes them with the map.
		p := schema.AppendScopePrefix(nil, ref.key[:ref.parentLen])
		p = tuple.AppendUnit(p, uint32(ref.field.Number()))
		if err := w.DeleteRange(p, tuple.PrefixEnd(p)); err != nil {
			return err
		}
	}
	if r == nil || !ref.deleteIndexed() {
		return del(w, ref)
	}
	d := newDelta(ref.table)
	if ref.kind == RefBreakout {
		o, _ := breakoutObj(ref)
		old, exists, err := d.loadOld(ctx, r, o)
		if err != nil {
			return err
		}
		if exists {
			old.Clear(ref.field.Desc)
			d.entries(o, old, d.new)
		}
		return d.apply(ctx, r, w, func() error { return del(w, ref) })
	}
	d.spans = append(d.spans, [2][]byte{ref.key, tuple.PrefixEnd(ref.key)})
	o, _ := inlineObj(ref)
	if _, _, err := d.loadOld(ctx, r, o); err != nil {
		return err
	}
	return d.apply(ctx, r, w, func() error { return del(w, ref) })
}

// setValueIx is setValue with index maintenance.
func setValueIx(ctx context.Context, r kv.Reader, w kv.Writer, ref Ref, v protoreflect.Value, typed bool) error {
	if r == nil || !ref.setIndexed() {
		return setValue(w, ref, v, typed)
	}
	if err := checkValueType(ref.field.Desc, v); err != nil {
		return invalid("%s: %v", ref, err)
	}
	o, _ := breakoutObj(ref)
	d := newDelta(ref.table)
	old, exists, err := d.loadOld(ctx, r, o)
	if err != nil {
		return err
	}
	if exists {
		old.Set(ref.field.Desc, v)
		d.entries(o, old, d.new)
	}
	return d.apply(ctx, r, w, func() error { return setValue(w, ref, v, typed) })
}

// deleteEntriesIx is deleteEntries with index maintenance: the index
// entries of every entry in the range are read and deleted.
func deleteEntriesIx(ctx context.Context, r kv.Reader, w kv.Writer, ref Ref, kr KeyRange) error {
	if r == nil || !ref.rangeIndexed() {
		return deleteEntries(w, ref, kr)
	}
	lo, hi, err := ref.mapBounds(kr)
	if err != nil {
		return err
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	d := newDelta(ref.table)
	d.spans = append(d.spans, [2][]byte{lo, hi})
	err = eachOwnKey(ctx, r, lo, hi, func(key []byte) (int, error) {
		n, err := ref.field.Key.Skip(key[ref.parentLen:])
		if err != nil {
			return 0, corrupt(key, "%v", err)
		}
		if ref.parentLen+n == len(key) {
			o, _ := entryObj(ref.table, ref.field, bytes.Clone(key), ref.parentLen)
			_, _, err = d.loadOld(ctx, r, o)
		}
		return ref.parentLen + n, err
	})
	if err != nil {
		return err
	}
	return d.apply(ctx, r, w, func() error { return deleteEntries(w, ref, kr) })
}

// deleteRowsIx is deleteRows with index maintenance.
func deleteRowsIx(ctx context.Context, r kv.Reader, w kv.Writer, t *Table, kr KeyRange) error {
	if r == nil || !rowsIndexed(t) {
		return deleteRows(w, t, kr)
	}
	lo, hi, err := t.bounds(kr)
	if err != nil {
		return err
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	d := newDelta(t)
	d.spans = append(d.spans, [2][]byte{lo, hi})
	err = eachOwnKey(ctx, r, lo, hi, func(key []byte) (int, error) {
		n, err := t.rowKeyLen(key)
		if err == nil && n == len(key) {
			o, _ := rowObj(t, bytes.Clone(key))
			_, _, err = d.loadOld(ctx, r, o)
		}
		return n, err
	})
	if err != nil {
		return err
	}
	return d.apply(ctx, r, w, func() error { return deleteRows(w, t, kr) })
}

// eachOwnKey calls fn with the first key of every object in [lo, hi) (the
// objects being rows or the entries of one map): fn returns the length of
// the object's key, and the scan seeks past the object's range.
func eachOwnKey(ctx context.Context, r kv.Reader, lo, hi []byte, fn func(key []byte) (int, error)) error {
	it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; {
		if err = ctx.Err(); err != nil {
			break
		}
		key := bytes.Clone(it.Key())
		n, ferr := fn(key)
		if ferr != nil {
			err = ferr
			break
		}
		ok = it.SeekGE(tuple.PrefixEnd(key[:n]))
	}
	return errors.Join(err, it.Error(), it.Close())
}

// inlineIx is the index part of updateInlineField: begin reads the object's
// old state before fn runs, end computes the new entries from the changed
// message (with key fields still set) and checks and writes them.
type inlineIx struct {
	o   idxObj
	d   *idxDelta
	old protoreflect.Message
}

// beginInline starts index maintenance for UpdateInline at ref; nil when
// no index depends on the object's own value.
func beginInline(ctx context.Context, r kv.Reader, ref Ref) (*inlineIx, error) {
	o, ok := inlineObj(ref)
	if !ok {
		return nil, nil
	}
	ix := &inlineIx{o: o, d: newDelta(ref.table)}
	var err error
	ix.old, _, err = ix.d.loadOld(ctx, r, o)
	return ix, err
}

// end records the new state m (the mutated inline fields), then checks unique indexes and writes the entries.
func (ix *inlineIx) end(ctx context.Context, txn kv.Txn, m protoreflect.Message) error {
	if ix == nil {
		return nil
	}
	nw := proto.Clone(m.Interface()).ProtoReflect()
	if ix.o.owner == 0 {
		if err := ix.o.t.setKeyFields(ix.o.key, nw); err != nil {
			return err
		}
	}
	for _, f := range indexedBreakouts(ix.o.indexes) {
		if ix.old.Has(f.Desc) {
			nw.Set(f.Desc, ix.old.Get(f.Desc))
		}
	}
	ix.d.entries(ix.o, nw, ix.d.new)
	return ix.d.apply(ctx, txn, txn, func() error { return nil })
}

// convert copies m into a message of descriptor md (the same message type,
// described by another descriptor) by its wire form.
func (db *DB) convert(m proto.Message, md protoreflect.MessageDescriptor) (protoreflect.Message, error) {
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	c := db.NewMessage(md)
	if err := db.unmarshalOptions().Unmarshal(b, c.Interface()); err != nil {
		return nil, err
	}
	return c, nil
}
