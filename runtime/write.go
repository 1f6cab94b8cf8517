package runtime

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// put replaces the object at ref with m: one range delete of the object's
// subtree, then every pair of m. An object whose layout has no children is
// one key, which the Set replaces: it needs no range tombstone (an LSM reads
// through tombstones until compaction, so not writing one keeps hot leaf
// objects such as time-series points cheap to read).
//
// own says ref is the RowOf of m (TypedTable.Put): the key m's key fields
// address is then ref's, and put does not build it again to compare.
func put(w kv.Writer, ref Ref, m proto.Message, own bool) error {
	kb, vb := buffers(w)
	return putIn(w, ref, m, own, kb, vb)
}

// putIn is put with the key and value buffers kb and vb (nil: new ones),
// whose bytes it overwrites; the writer retains neither (kv.Writer).
func putIn(w kv.Writer, ref Ref, m proto.Message, own bool, kb, vb []byte) error {
	if err := ref.wantObject(m); err != nil {
		return err
	}
	if ref.keyErr != nil {
		return ref.keyErr
	}
	if ref.kind == RefRow && !own {
		own, err := ref.table.RowOf(m)
		if err != nil {
			return err
		}
		if !bytes.Equal(own.key, ref.key) {
			return invalid("the key fields of the message address %s, not %s", own, ref)
		}
	}
	if kb == nil {
		kb = make([]byte, 0, len(ref.key)+128)
	}
	if len(ref.node.Children) > 0 {
		// The range's end in the key buffer: the writer copies it, and
		// the buffer is free again once DeleteRange returns.
		end, ok := tuple.AppendPrefixEnd(kb, ref.key)
		if !ok {
			end = nil // as tuple.PrefixEnd: no key sorts after the range
		}
		if err := w.DeleteRange(ref.key, end); err != nil {
			return err
		}
		if ref.kind == RefRow {
			if err := deleteApart(w, ref.table, ref.key, end); err != nil {
				return err
			}
		}
		if ok {
			kb = end[:0]
		}
	}
	e := encoder{w: w, t: ref.table, val: vb}
	if b, ok := w.(*writeBatch); ok {
		e.iter, e.skey = &b.iter, b.skey
		defer func() { b.skey = e.skey }() // made once per pooled batch
	}
	return e.object(append(kb, ref.key...), ref.node, m.ProtoReflect(), m)
}

// setValue writes a breakout field or a scalar map entry: one blind Set.
// typed says v's type has been checked (see typeFits).
func setValue(w kv.Writer, ref Ref, v protoreflect.Value, typed bool) error {
	_, vb := buffers(w)
	key, val, err := encodeValue(vb, &ref, v, typed)
	if err != nil {
		return err
	}
	return w.Set(key, val)
}

// encodeValue returns the key and the value, appended to vb, of the one
// Set of setValue, after every check setValue makes: what a kv.KeySetter
// is given (DB.setKey).
func encodeValue(vb []byte, ref *Ref, v protoreflect.Value, typed bool) (key, val []byte, err error) {
	f := ref.field
	switch {
	case ref.kind == RefBreakout:
		if err := checkType(typed, f.Desc, v); err != nil {
			return nil, nil, invalid("%s: %v", *ref, err)
		}
		if ref.keyErr != nil {
			return nil, nil, ref.keyErr
		}
		if k := f.ValueKind(); k != 0 && k != protoreflect.StringKind {
			// A scalar of a known kind, not a string: no UTF-8 to check,
			// no descriptor to ask.
			val = appendKind(vb, f.Number(), k, v)
			break
		}
		val, err = appendField(vb, f.Desc, v)
		if err != nil {
			return nil, nil, invalid("%s: %v", *ref, err)
		}
	case ref.kind == RefEntry && f.Child == nil:
		if err := checkType(typed, f.MapValue, v); err != nil {
			return nil, nil, invalid("%s: %v", *ref, err)
		}
		if ref.keyErr != nil {
			return nil, nil, ref.keyErr
		}
		if k := f.ValueKind(); k != 0 && k != protoreflect.StringKind {
			val = appendKind(vb, 2, k, v) // no UTF-8 to check
			break
		}
		if err := checkUTF8(f.MapValue, v); err != nil {
			return nil, nil, invalid("%s: value: %v", *ref, err)
		}
		val = appendScalar(vb, 2, f.MapValue, v)
	default:
		return nil, nil, invalid("%s is a %s; SetValue writes breakout fields and scalar map entries (use Put for objects)", *ref, ref.kindName())
	}
	if err := checkSize(ref.table, ref.key, val); err != nil {
		return nil, nil, err
	}
	return ref.key, val, nil
}

// checkType is checkValueType, unless typed says v's type has been checked.
func checkType(typed bool, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if typed {
		return nil
	}
	return checkValueType(fd, v)
}

// del removes whatever ref addresses: a breakout key, or a whole subtree.
func del(w kv.Writer, ref Ref) error {
	if ref.kind == RefBreakout {
		return w.Delete(ref.key)
	}
	if ref.kind == RefRow {
		if err := deleteApart(w, ref.table, ref.key, tuple.PrefixEnd(ref.key)); err != nil {
			return err
		}
	}
	return w.DeleteRange(ref.key, tuple.PrefixEnd(ref.key))
}

// updateInlineField reads the inline fields of the object at ref, lets fn
// change them, and writes them back: a read-modify-write of the object's
// small own value, which must run inside a transaction. A missing object is
// created. num is the one field fn changes (0: any field), as the inline
// views' setters say. When num is an inline
// field of the object, the message fn sees holds the stored inline fields
// only and fn can add nothing else, so the row's key fields are not set for
// it and the mutated message needs no check before it is written back.
//
// When change is not zero, fn sets field change.fd (number num) to change.v, a
// value of the field's type, and nothing else: with no index to maintain,
// the new value is then patched into the encoded one when patchScalar can
// vouch that the bytes are those of the decode, modify, encode.
func updateInlineField(ctx context.Context, txn kv.Txn, db *DB, ref Ref, num protoreflect.FieldNumber, change scalarSet, fn func(protoreflect.Message) error) error {
	if err := inlineTarget(ref); err != nil {
		return err
	}
	ix, err := beginInline(ctx, txn, ref) // index.go
	if err != nil {
		return err
	}
	val, err := txn.Get(ctx, ref.key)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	out, err := newInline(ctx, txn, ix, db, ref, num, change, fn, val, nil)
	if err != nil {
		return err
	}
	if err := ensureRow(ctx, txn, ref); err != nil {
		return err
	}
	return set(txn, ref.table, ref.key, out)
}

// inlineTarget refuses a Ref whose inline fields cannot be updated.
func inlineTarget(ref Ref) error {
	if ref.node == nil {
		return invalid("%s is a %s; inline fields belong to rows, objects and message map entries", ref, ref.kindName())
	}
	return ref.keyErr
}

// newInline returns the new own value of the object at ref, whose stored
// value is val (nil when missing), after fn (see updateInlineField), appended
// to dst[:0]. ix is the object's index maintenance (nil when no index
// names its inline fields), which writes into txn; with no ix, txn is
// not used and may be nil, and the result depends on val alone.
func newInline(ctx context.Context, txn kv.Txn, ix *inlineIx, db *DB, ref Ref, num protoreflect.FieldNumber, change scalarSet, fn func(protoreflect.Message) error, val, dst []byte) ([]byte, error) {
	n := ref.node
	trusted := false
	if num != 0 {
		f := n.Field(num)
		trusted = f != nil && f.Storage == schema.Inline
	}
	if change.fd != nil && trusted && ix == nil {
		// A value the patch vouches for with n's layout is one checkValue
		// accepts (see patchScalar): one walk of it instead of two.
		if out, ok := patchScalar(dst, val, n.Desc, n, change.fd, change.v); ok {
			return out, nil
		}
	}
	if err := checkValue(ref.key, val, n); err != nil {
		return nil, err
	}
	m := db.NewMessage(n.Desc)
	if err := db.unmarshalOptions().Unmarshal(val, m.Interface()); err != nil {
		return nil, corrupt(ref.key, "value does not parse: %v", err)
	}
	if ref.kind == RefRow && !trusted {
		if err := ref.table.setKeyFields(ref.key, m); err != nil {
			return nil, err
		}
	}
	if err := fn(m); err != nil {
		return nil, err
	}
	if !trusted {
		if err := onlyInline(ref, m); err != nil {
			return nil, err
		}
	}
	if err := ix.end(ctx, txn, m); err != nil { // index.go
		return nil, err
	}
	out, err := ownValue(dst[:0], n, m)
	if err != nil {
		return nil, invalid("%s: %v", ref, err)
	}
	return out, nil
}

// onlyInline checks that a mutated message holds nothing but inline fields
// (and unchanged key fields, which it then clears).
func onlyInline(ref Ref, m protoreflect.Message) error {
	var bad error
	var keyFields []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		f := ref.node.Field(fd.Number())
		switch {
		case f == nil || f.Storage == schema.Inline:
		case f.Storage == schema.KeyColumn:
			keyFields = append(keyFields, fd)
		default:
			bad = invalid("%s.%s is stored as %s; an inline mutation may only set inline fields", ref, fd.Name(), f.Storage)
		}
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	if ref.kind == RefRow {
		if own, err := ref.table.RowOf(m.Interface()); err != nil || !bytes.Equal(own.key, ref.key) {
			return invalid("%s: an inline mutation may not change key fields", ref)
		}
	}
	for _, fd := range keyFields {
		m.Clear(fd)
	}
	return nil
}

// deleteEntries removes the entries of the map at ref with keys in r.
func deleteEntries(w kv.Writer, ref Ref, r KeyRange) error {
	lo, hi, err := ref.mapBounds(r)
	if err != nil {
		return err
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	return w.DeleteRange(lo, hi)
}

// deleteRows removes the rows of t in r.
func deleteRows(w kv.Writer, t *Table, r KeyRange) error {
	lo, hi, err := t.bounds(r)
	if err != nil {
		return err
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	if err := deleteApart(w, t, lo, hi); err != nil {
		return err
	}
	return w.DeleteRange(lo, hi)
}

// writeBatch is the batch of a DB-level write (DB.Put, DB.SetValue, ...)
// with the buffers its keys and values are encoded in. It is reused through
// batchPool: a kv.Batch copies what it records, and stores copy a batch's
// operations before Apply returns (kv.Store.Apply does not keep it), so
// nothing refers to its memory once the write is done.
type writeBatch struct {
	kv.Batch
	key, val []byte
	// iter and skey are the encoder's (goEntries), kept with the batch
	// so that a Put makes neither.
	iter reflect.MapIter
	skey reflect.Value
}

var batchPool = sync.Pool{New: func() any { return &writeBatch{key: make([]byte, 0, 128), val: make([]byte, 0, 128)} }}

// maxPooledBatch is the most bytes a pooled batch keeps: a write of a large
// object does not pin its memory in the pool.
const maxPooledBatch = 64 << 10

// release empties b and returns it to the pool, unless it grew large.
func (b *writeBatch) release() {
	if b.Size() > maxPooledBatch || cap(b.key) > maxPooledBatch || cap(b.val) > maxPooledBatch {
		return
	}
	b.Reset()
	batchPool.Put(b)
}

// buffers returns the key and value buffers of w when it is a pooled
// writeBatch (emptied), or nil ones to allocate.
func buffers(w kv.Writer) (key, val []byte) {
	if b, ok := w.(*writeBatch); ok {
		return b.key[:0], b.val[:0]
	}
	return nil, nil
}
