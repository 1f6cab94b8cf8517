package runtime

import (
	"context"
	"errors"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// KeyRange selects rows or map entries by key: the leading key columns fixed
// to Prefix, then the next column in [Lower, Upper) by value (either bound
// may be the zero Value, meaning unbounded). Map ranges use no Prefix.
// Results come in stored key order: a descending column's values come
// largest first.
type KeyRange struct {
	Prefix       []protoreflect.Value
	Lower, Upper protoreflect.Value
}

// MapEntry is one entry of a map scan.
type MapEntry struct {
	// Ref addresses the entry.
	Ref Ref
	// Key is the entry's key.
	Key protoreflect.Value
	// Value is the entry's value: a message for message-valued maps.
	Value protoreflect.Value
}

func notFound(ref Ref) error { return &notFoundError{ref.String()} }

type notFoundError struct{ path string }

func (e *notFoundError) Error() string { return "runtime: " + e.path + " not found" }
func (e *notFoundError) Unwrap() error { return ErrNotFound }

// wantObject checks that ref addresses an object of m's type.
func (r Ref) wantObject(m proto.Message) error {
	if r.node == nil {
		return invalid("%s is a %s, not an object; use GetValue/SetValue", r, r.kindName())
	}
	if got := m.ProtoReflect().Descriptor().FullName(); got != r.node.Desc.FullName() {
		return invalid("%s holds %s, got a %s", r, r.node.Desc.FullName(), got)
	}
	return nil
}

func (r Ref) kindName() string {
	return [...]string{"?", "row", "object", "breakout field", "map", "map entry"}[r.kind]
}

// decode unmarshals an object's reassembled wire bytes into m and, for a
// row, sets its key fields from the key.
func (r Ref) decode(d *decoder, key, wire []byte, m protoreflect.Message) error {
	return r.decodePlan(d, key, wire, m, nil, decodePlanOf(m))
}

// decodePlan is decode with m's plan p (decodePlanOf(m)) already looked
// up, as get has it, and its Go message x when the caller holds it (nil:
// asked of m where needed).
func (r Ref) decodePlan(d *decoder, key, wire []byte, m protoreflect.Message, x proto.Message, p *msgPlan) error {
	if err := d.unmarshalPlan(r.table.db.unmarshalOptions(), wire, m, 0, p); err != nil {
		return corrupt(key, "reassembled %s does not parse: %v", m.Descriptor().FullName(), err)
	}
	if r.kind == RefRow {
		return r.table.setKeys(key, m, x, p)
	}
	return nil
}

// setKeyFields sets m's key columns from a row key.
func (t *Table) setKeyFields(key []byte, m protoreflect.Message) error {
	return t.setKeys(key, m, nil, decodePlanOf(m))
}

// setKeys is setKeyFields with m's plan p (decodePlanOf(m)) and its Go
// message x when the caller holds it (nil: asked of m where needed).
func (t *Table) setKeys(key []byte, m protoreflect.Message, x proto.Message, p *msgPlan) error {
	off := len(t.prefix)
	md := m.Descriptor()
	for _, col := range t.s.Key {
		fd := col.Field
		if md != t.s.Desc {
			fd = md.Fields().ByNumber(col.Field.Number())
		}
		if fd.Kind() == protoreflect.StringKind && col.Field.Kind() == protoreflect.StringKind {
			// The usual element of a string column, read as Decode
			// reads it (its UTF-8 checked as Column.Value checks it)
			// without building an Element and a Value; any other
			// element goes to Decode, which takes or reports it.
			if s, n, ok := tuple.PlainBytes(key[off:], col.Num, col.Kind); ok && (!col.UTF8 || validUTF8(s)) {
				setString(m, x, p, fd, string(s))
				off += n
				continue
			}
		}
		v, n, err := col.Decode(key[off:])
		if err != nil {
			return corrupt(key, "key column %s: %v", col.Field.Name(), err)
		}
		if fd.Kind() == protoreflect.StringKind {
			setString(m, x, p, fd, v.String())
		} else {
			m.Set(fd, v)
		}
		off += n
	}
	return nil
}

// rowKeyLen returns the length of the row key that key starts with,
// checking each key column's element.
func (t *Table) rowKeyLen(key []byte) (int, error) {
	return t.rowKeyCols(key, nil, false)
}

// rowKeyCols is rowKeyLen recording in kc, when it is not nil, where each
// key column's element ends and which of them are plain string or bytes
// elements (tuple.PlainBytes), for a row plan's setKeys to take their
// payloads from instead of parsing the key again (scanOwn). kc.n is the
// number of columns recorded: all of them, or 0 when the table has more
// than maxKeyCols key columns or key does not parse. under says that the
// caller knows key to start with the table's prefix (a key read from a
// range within it: keysUnder), which is then not compared again.
func (t *Table) rowKeyCols(key []byte, kc *keyCols, under bool) (int, error) {
	if kc != nil {
		kc.n, kc.plain = 0, 0
		if len(t.s.Key) > maxKeyCols {
			kc = nil
		}
	}
	off := len(t.prefix)
	if !under && (len(key) < off || string(key[:off]) != string(t.prefix)) {
		return 0, corrupt(key, "key is outside table %s", t.s.Desc.Name())
	}
	for i, col := range t.s.Key {
		// Skip's own first try, made here to know that it succeeded.
		_, n, plain := tuple.PlainBytes(key[off:], col.Num, col.Kind)
		if !plain {
			var err error
			if n, err = col.Skip(key[off:]); err != nil {
				return 0, corrupt(key, "key column %s: %v", col.Field.Name(), err)
			}
		}
		off += n
		if kc != nil {
			kc.end[i] = off
			if plain {
				kc.plain |= 1 << i
			}
		}
	}
	if kc != nil {
		kc.n = len(t.s.Key)
	}
	return off, nil
}

// bounds turns a row KeyRange into key bounds.
func (t *Table) bounds(r KeyRange) (lo, hi []byte, err error) {
	cols := t.s.Key
	if len(r.Prefix) > len(cols) || (len(r.Prefix) == len(cols) && (r.Lower.IsValid() || r.Upper.IsValid())) {
		return nil, nil, invalid("%s has %d key columns; a range fixes at most %d and bounds the next", t.s.Desc.Name(), len(cols), len(cols))
	}
	p := append([]byte(nil), t.prefix...)
	for i, v := range r.Prefix {
		if err := cols[i].Check(v); err != nil {
			return nil, nil, invalidKey(err, "%s key", t.s.Desc.Name())
		}
		p = cols[i].Append(p, v)
	}
	if len(r.Prefix) == len(cols) {
		return p, tuple.PrefixEnd(p), nil
	}
	return rangeBounds(p, cols[len(r.Prefix)], r)
}

// rangeBounds checks the bounds of r and returns the keys of column col's
// elements under p with values in [r.Lower, r.Upper).
func rangeBounds(p []byte, col *schema.Column, r KeyRange) (lo, hi []byte, err error) {
	for _, v := range [...]protoreflect.Value{r.Lower, r.Upper} {
		if v.IsValid() {
			if err := col.Check(v); err != nil {
				return nil, nil, invalidKey(err, "range bound")
			}
		}
	}
	lo, hi = col.Range(p, r.Lower, r.Upper)
	return lo, hi, nil
}

// mapBounds turns a map KeyRange into key bounds within the map at r.
func (r Ref) mapBounds(kr KeyRange) (lo, hi []byte, err error) {
	if r.kind != RefMap {
		return nil, nil, invalid("%s is a %s, not a map", r, r.kindName())
	}
	if len(kr.Prefix) > 0 {
		return nil, nil, invalid("%s: a map range has no key prefix", r)
	}
	return rangeBounds(r.key[:r.parentLen], r.field.Key, kr)
}

// decodeEntry builds a MapEntry from an entry key and its reassembled bytes
// (a scalar entry: its stored value).
func (r Ref) decodeEntry(key, wire []byte) (MapEntry, error) {
	f := r.field
	k, _, err := f.Key.Decode(key[r.parentLen:])
	if err != nil {
		return MapEntry{}, corrupt(key, "map key: %v", err)
	}
	entry := r
	if r.kind == RefMap {
		if entry, err = r.Entry(k); err != nil {
			return MapEntry{}, err
		}
	}
	e := MapEntry{Ref: entry, Key: k}
	if f.Child != nil {
		m := r.table.db.NewMessage(f.Child.Desc)
		if err := r.table.db.unmarshalOptions().Unmarshal(wire, m.Interface()); err != nil {
			return MapEntry{}, corrupt(key, "reassembled %s does not parse: %v", f.Child.Desc.FullName(), err)
		}
		e.Value = protoreflect.ValueOfMessage(m)
		return e, nil
	}
	if err := checkSingle(key, wire, 2, f.MapValue); err != nil {
		return MapEntry{}, err
	}
	e.Value, err = r.table.db.leafValue(key, f, appendScalar(nil, 1, f.MapKey, k), wire)
	return e, err
}

// leafValue decodes a breakout value (head nil) or a scalar map entry's
// value by unmarshalling it as part of its parent message, so every scalar
// type decodes exactly as protobuf decodes it.
func (db *DB) leafValue(key []byte, f *schema.Field, head, value []byte) (protoreflect.Value, error) {
	parent := db.NewMessage(f.Parent.Desc)
	fd := parent.Descriptor().Fields().ByNumber(f.Number())
	wire := value
	if head != nil {
		wire = protowire.AppendTag(nil, f.Number(), protowire.BytesType)
		wire = protowire.AppendVarint(wire, uint64(len(head)+len(value)))
		wire = append(append(wire, head...), value...)
	}
	if err := db.unmarshalOptions().Unmarshal(wire, parent.Interface()); err != nil {
		return protoreflect.Value{}, corrupt(key, "value does not parse: %v", err)
	}
	v := parent.Get(fd)
	if head == nil {
		return v, nil
	}
	var out protoreflect.Value
	v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool { out = mv; return false })
	return out, nil
}

// getValue reads a breakout field or a scalar map entry.
func getValue(ctx context.Context, r kv.Reader, ref Ref) (protoreflect.Value, error) {
	f := ref.field
	switch {
	case ref.kind == RefBreakout:
	case ref.kind == RefEntry && f.Child == nil:
	default:
		return protoreflect.Value{}, invalid("%s is a %s; GetValue reads breakout fields and scalar map entries", ref, ref.kindName())
	}
	value, err := r.Get(ctx, ref.key)
	if errors.Is(err, kv.ErrNotFound) {
		return protoreflect.Value{}, notFound(ref)
	}
	if err != nil {
		return protoreflect.Value{}, err
	}
	if ref.kind == RefBreakout {
		if err := checkSingle(ref.key, value, f.Number(), f.Desc); err != nil {
			return protoreflect.Value{}, err
		}
		return ref.table.db.leafValue(ref.key, f, nil, value)
	}
	e, err := ref.decodeEntry(ref.key, value)
	return e.Value, err
}
