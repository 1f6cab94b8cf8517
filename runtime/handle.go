package runtime

import (
	"context"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Handle addresses one place of a DB — a row, an object field, a breakout
// field, a map or a map entry — together with the Querier (a *DB or a *Tx)
// its typed views run their calls on. Building one does no I/O: an error
// met while addressing (a bad key, a field that is not stored under its own
// key) is carried and returned by every call made through it.
//
// Handle is the untyped base of the typed views [Object], [Field],
// [Inline], [InlineList], [Map] and [ObjectMap], which generated code
// builds from it by field number; a view's type parameter is checked
// against the stored data when a call reads or writes it.
type Handle struct {
	q   Querier
	ref Ref
	err error
}

// failed returns the error met while addressing h, or an error when h is
// the zero Handle (a view declared but never built), whose calls would
// have nothing to run on.
func (h Handle) failed() error {
	switch {
	case h.err != nil:
		return h.err
	case h.q == nil:
		return invalid("a zero handle addresses nothing: build it from a generated table, or with HandleOf")
	}
	return nil
}

// HandleOf returns the Handle of ref on q. It does no I/O. On a DB or
// transaction over another store than the DB of ref's table, every call
// fails with ErrInvalid, and on another namespace's over that store the
// calls run on ref's own DB, as a table bound with TypedTable.In does.
func HandleOf(q Querier, ref Ref) Handle { return Handle{q: bound(ref.table, q), ref: ref} }

// Ref returns the address of h, or the error met while addressing it.
func (h Handle) Ref() (Ref, error) { return h.ref, h.err }

// Querier returns what h's calls run on.
func (h Handle) Querier() Querier { return h.q }

// Field steps into field num of the object at h, which must be stored
// under its own key (a breakout field, an object field or a map). It does
// no I/O.
func (h Handle) Field(num protoreflect.FieldNumber) (next Handle) {
	if h.err != nil {
		return h
	}
	// Built in place (Ref.stepField): a Handle is 128 bytes, and generated
	// code steps into a field on every call of a field method.
	next.q, next.err = h.q, h.ref.stepField(&next.ref, num)
	return next
}

// entry steps from the map at h to the entry with key k.
func entry[K any](h Handle, k K) Handle {
	if h.err != nil {
		return h
	}
	v, err := valueOf(k)
	if err != nil {
		return Handle{q: h.q, err: invalid("%s key: %v", h.ref, err)}
	}
	var col *schema.Column
	if h.ref.kind == RefMap {
		col = h.ref.field.Key
	}
	ref, err := h.ref.entry(v, keyFits[K](col))
	return Handle{q: h.q, ref: ref, err: err}
}

// keyFits reports whether every value of Go type K is of key column col's
// type (nil: no column), so that a key of K needs no check of its own:
// checking one boxes it, an allocation on every call.
func keyFits[K any](col *schema.Column) bool {
	if col == nil {
		return false
	}
	var zero K
	v, err := valueOf(zero) // a zero scalar boxes without allocating
	return err == nil && col.Check(v) == nil
}

// Object is the typed view of an object of Go type M stored at a Handle: a
// row, an object field or a message-valued map entry. Its own key holds its
// inline fields; its breakout fields, object fields and maps have keys
// below it.
type Object[M proto.Message] struct{ Handle }

// Get reads the object's key range (its own key and every key below it) in
// one range scan and returns the M reassembled from it. It returns an error
// wrapping ErrNotFound when no key of that range exists.
func (o Object[M]) Get(ctx context.Context) (M, error) {
	return getObject[M](ctx, o.Handle)
}

// Put replaces the object with v. When the object's layout has breakout
// fields, object fields or maps, that is a range delete of the object's
// whole key range and then a write of every pair of v; otherwise the object
// is its one key, which a single write replaces. On a *DB the writes are
// one atomic batch; on a *Tx they join the transaction and commit with it.
// It neither reads nor writes the object holding this one (a missing holder
// reads back as existing once something below it is stored).
func (o Object[M]) Put(ctx context.Context, v M) error {
	return putObject(ctx, o.Handle, v)
}

// Delete deletes the object's whole key range: one range delete (a batch
// of its own on a *DB, part of the transaction on a *Tx).
func (o Object[M]) Delete(ctx context.Context) error {
	if err := o.failed(); err != nil {
		return err
	}
	return o.q.Delete(ctx, o.ref)
}

// UpdateInline reads the object's own key — its inline fields only — lets
// fn change them, and writes the key back: a read-modify-write of that one
// key, which a *DB runs as a transaction of its own (fn may run more than
// once when it conflicts) and a *Tx runs inside its transaction. fn sees an
// M holding only the inline fields (and, for a row, its key fields, which
// it must not change) and may change only inline fields; keys below the
// object are neither read nor written. A missing object is created.
func (o Object[M]) UpdateInline(ctx context.Context, fn func(M) error) error {
	if err := o.failed(); err != nil {
		return err
	}
	return o.q.UpdateInline(ctx, o.ref, func(m protoreflect.Message) error {
		v, err := messageAs[M](m.Interface())
		if err != nil {
			return err
		}
		return fn(v)
	})
}

func getObject[M proto.Message](ctx context.Context, h Handle) (M, error) {
	var zero M
	if err := h.failed(); err != nil {
		return zero, err
	}
	m, err := newMessage[M]()
	if err != nil {
		return zero, err
	}
	if err := h.q.Get(ctx, h.ref, m); err != nil {
		return zero, err
	}
	return m, nil
}

func putObject[M proto.Message](ctx context.Context, h Handle, v M) error {
	if isNil(v) {
		return invalid("Put of a nil %T at %s", v, h.ref)
	}
	if err := h.failed(); err != nil {
		return err
	}
	return h.q.Put(ctx, h.ref, v)
}

// Field is the typed view of a breakout field of Go type T: a field stored
// alone under its own key, below the object holding it.
type Field[T any] struct{ Handle }

// Get reads the field's one key. It returns an error wrapping ErrNotFound
// when the field is not stored.
func (f Field[T]) Get(ctx context.Context) (T, error) {
	return getTyped[T](ctx, f.Handle)
}

// Set writes the field's one key: a blind write that reads nothing and
// leaves the value of the object holding the field alone (a missing
// holder reads back as existing afterwards). A nil message deletes the key
// instead.
func (f Field[T]) Set(ctx context.Context, v T) error {
	if err := f.failed(); err != nil {
		return err
	}
	pv, err := valueOf(v)
	switch {
	case err == errNilMessage:
		return f.Clear(ctx)
	case err != nil:
		return invalid("%s: %v", f.ref, err)
	}
	return setOne(ctx, &f.Handle, pv, typeFits[T](&f.ref))
}

// Clear deletes the field's one key.
func (f Field[T]) Clear(ctx context.Context) error {
	if err := f.failed(); err != nil {
		return err
	}
	return f.q.Delete(ctx, f.ref)
}

func getTyped[T any](ctx context.Context, h Handle) (T, error) {
	if err := h.failed(); err != nil {
		var zero T
		return zero, err
	}
	v, err := h.q.GetValue(ctx, h.ref)
	if err != nil {
		var zero T
		return zero, err
	}
	return valueAs[T](v, valueField(h.ref))
}

// valueField is the field whose kind the value at ref has: the breakout
// field, or the value field of a map entry.
func valueField(ref Ref) protoreflect.FieldDescriptor {
	if ref.kind == RefEntry {
		return ref.field.MapValue
	}
	return ref.field.Desc
}

func setTyped[T any](ctx context.Context, h Handle, v T) error {
	if err := h.failed(); err != nil {
		return err
	}
	pv, err := valueOf(v)
	if err != nil {
		return invalid("%s: %v", h.ref, err)
	}
	return setOne(ctx, &h, pv, typeFits[T](&h.ref))
}

// typeFits reports whether every value of Go type T has the type of the
// value at ref (a breakout field or a scalar map entry), so that a value
// of T needs no check of its own: checking one boxes it, an allocation on
// every write. Message types are checked value by value.
func typeFits[T any](ref *Ref) bool {
	if ref.field == nil || (ref.kind != RefBreakout && ref.kind != RefEntry) {
		return false
	}
	if k := ref.field.ValueKind(); k != 0 { // a singular scalar: answered from its kind
		var zero T
		if ok, scalar := kindFits(k, zero); scalar { // a zero scalar boxes without allocating
			return ok
		}
	}
	return fits[T](valueField(*ref))
}

// fits reports whether every value of Go type T is a valid singular value
// of fd (see typeFits).
func fits[T any](fd protoreflect.FieldDescriptor) bool {
	if fd == nil || fd.IsList() || fd.IsMap() {
		return false
	}
	var zero T
	if ok, scalar := scalarFits(fd, zero); scalar { // a zero scalar boxes without allocating
		return ok // T is the Go type of the scalar values: no protoreflect.Value to build
	}
	v, err := valueOf(zero)
	return err == nil && checkValueType(fd, v) == nil
}

// setOne is SetValue on h's Querier; typed says the value's type has been
// checked (see typeFits). h and its Ref go down by address: a Handle is
// 128 bytes, which each call taking it by value would copy.
func setOne(ctx context.Context, h *Handle, v protoreflect.Value, typed bool) error {
	switch q := h.q.(type) {
	case *DB:
		return q.setValue(ctx, &h.ref, v, typed)
	case *Tx:
		return q.setValue(ctx, &h.ref, v, typed)
	}
	return h.q.SetValue(ctx, h.ref, v)
}

// Inline is the typed view of an inline field of Go type T: a field stored
// inside the value of the object holding it (Object, at field number Num).
// Writing it is a read-modify-write of that object's own key (see
// Object.UpdateInline); keys below the object are neither read nor written.
type Inline[T any] struct {
	// Object is the handle of the object holding the field.
	Object Handle
	// Num is the field's number.
	Num protoreflect.FieldNumber
}

// Set sets the field to v — a nil message clears it; a member of a oneof
// clears the other members — by a read-modify-write of the holder's own
// key (see Object.UpdateInline). A missing holder is created.
func (f Inline[T]) Set(ctx context.Context, v T) error {
	pv, err := valueOf(v)
	switch {
	case err == errNilMessage:
		return f.Clear(ctx)
	case err != nil:
		return invalid("field %d: %v", f.Num, err)
	}
	h, num := f.Object, f.Num
	if err := h.failed(); err != nil {
		return err
	}
	var typed protoreflect.FieldDescriptor // a field every T fits (see typeFits)
	if h.ref.node != nil {
		if sf := h.ref.node.Field(num); sf != nil && fits[T](sf.Desc) {
			typed = sf.Desc
		}
	}
	var set scalarSet // the change patchScalar can make without fn
	if typed != nil {
		set = scalarSet{fd: typed, v: pv}
	}
	return updateOne(ctx, h, num, set, func(m protoreflect.Message) error { // one closure: Set is a hot path
		fd, err := fieldOf(m, num)
		if err == nil && fd != typed {
			err = viewMismatch(fd, fd.IsList() || fd.IsMap(), pv)
		}
		if err == nil {
			m.Set(fd, pv)
		}
		return err
	})
}

// Clear clears the field by a read-modify-write of the holder's own key
// (see Object.UpdateInline). A missing holder is created.
func (f Inline[T]) Clear(ctx context.Context) error {
	return f.update(ctx, func(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
		m.Clear(fd)
		return nil
	})
}

func (f Inline[T]) update(ctx context.Context, set func(protoreflect.Message, protoreflect.FieldDescriptor) error) error {
	return updateField(ctx, f.Object, f.Num, set)
}

// updateField runs set on field num of the object at h, inside
// UpdateInline.
func updateField(ctx context.Context, h Handle, num protoreflect.FieldNumber, set func(protoreflect.Message, protoreflect.FieldDescriptor) error) error {
	if err := h.failed(); err != nil {
		return err
	}
	return updateOne(ctx, h, num, scalarSet{}, func(m protoreflect.Message) error {
		fd, err := fieldOf(m, num)
		if err != nil {
			return err
		}
		return set(m, fd)
	})
}

// updateOne runs fn, which changes nothing but field num, inside
// UpdateInline of the object at h; on a *DB or a *Tx the mutated message
// then needs no check for fields fn cannot have set, and when set is not
// zero (fn sets set.fd to set.v, a value of its type) the change may be
// made on the encoded value instead (patchScalar).
func updateOne(ctx context.Context, h Handle, num protoreflect.FieldNumber, set scalarSet, fn func(protoreflect.Message) error) error {
	switch q := h.q.(type) {
	case *DB:
		return q.updateInlineField(ctx, h.ref, num, set, fn)
	case *Tx:
		return q.updateInlineField(ctx, h.ref, num, set, fn)
	}
	return h.q.UpdateInline(ctx, h.ref, fn)
}

// viewMismatch refuses a value of the wrong type for fd, or a singular
// value for a repeated or map field (protoreflect would panic), as a view
// of the wrong Go type would give.
func viewMismatch(fd protoreflect.FieldDescriptor, composite bool, v protoreflect.Value) error {
	if composite {
		return invalid("%s is a repeated or map field, not a single value", fd.FullName())
	}
	if err := checkValueType(fd, v); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// fieldOf returns field num of m's message.
func fieldOf(m protoreflect.Message, num protoreflect.FieldNumber) (protoreflect.FieldDescriptor, error) {
	fd := m.Descriptor().Fields().ByNumber(num)
	if fd == nil {
		return nil, invalid("%s has no field number %d", m.Descriptor().FullName(), num)
	}
	return fd, nil
}

// replaceField clears the repeated or map field num of the object at h
// and, when the new content has n elements, lets fill add them, inside
// UpdateInline.
func replaceField(ctx context.Context, h Handle, num protoreflect.FieldNumber, n int, fill func(protoreflect.Message, protoreflect.FieldDescriptor) error) error {
	return updateField(ctx, h, num, func(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
		m.Clear(fd)
		if n == 0 {
			return nil
		}
		return fill(m, fd)
	})
}

// InlineList is the typed view of a repeated inline field with elements of
// Go type E, stored inside the value of the object holding it (Object, at
// field number Num).
type InlineList[E any] struct {
	// Object is the handle of the object holding the field.
	Object Handle
	// Num is the field's number.
	Num protoreflect.FieldNumber
}

// Set replaces every element of the field with vs (empty clears it) by a
// read-modify-write of the holder's own key (see Object.UpdateInline). A
// missing holder is created.
func (f InlineList[E]) Set(ctx context.Context, vs []E) error {
	return replaceField(ctx, f.Object, f.Num, len(vs), func(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
		if !fd.IsList() {
			return invalid("%s is not a repeated field", fd.FullName())
		}
		l := m.Mutable(fd).List()
		for i, e := range vs {
			pv, err := valueOf(e)
			if err == nil {
				err = checkValueType(fd, pv)
			}
			if err != nil {
				return invalid("%s[%d]: %v", fd.FullName(), i, err)
			}
			l.Append(pv)
		}
		return nil
	})
}

// InlineMap is the typed view of a map field stored inline, with keys of Go
// type K and values of Go type V, inside the value of the object holding it
// (Object, at field number Num).
type InlineMap[K comparable, V any] struct {
	// Object is the handle of the object holding the field.
	Object Handle
	// Num is the field's number.
	Num protoreflect.FieldNumber
}

// Set replaces every entry of the field with vs (empty clears it) by a
// read-modify-write of the holder's own key (see Object.UpdateInline). A
// missing holder is created.
func (f InlineMap[K, V]) Set(ctx context.Context, vs map[K]V) error {
	return replaceField(ctx, f.Object, f.Num, len(vs), func(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
		if !fd.IsMap() {
			return invalid("%s is not a map field", fd.FullName())
		}
		mp := m.Mutable(fd).Map()
		for k, v := range vs {
			pk, err := valueOf(k)
			if err == nil {
				err = checkValueType(fd.MapKey(), pk)
			}
			if err != nil {
				return invalid("%s key: %v", fd.FullName(), err)
			}
			pv, err := valueOf(v)
			if err == nil {
				err = checkValueType(fd.MapValue(), pv)
			}
			if err != nil {
				return invalid("%s[%v]: %v", fd.FullName(), k, err)
			}
			mp.Set(pk.MapKey(), pv)
		}
		return nil
	})
}
