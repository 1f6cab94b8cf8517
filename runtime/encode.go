package runtime

import (
	"cmp"
	"slices"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// marshal is deterministic so that equal messages store equal bytes (inline
// maps would otherwise vary run to run).
var marshal = proto.MarshalOptions{Deterministic: true}

// encoder decomposes messages into key-value pairs on a kv.Writer. Child
// keys are appended in place after their parent's key, in the parent's
// spare capacity: a parent's own bytes never change, and siblings, written
// one after another, reuse the same space. That is safe because the kv
// contract lets writers reuse buffers once Set returns.
//
// Every pair is checked before it is written (check.go): the encoder stores
// nothing the read path would refuse.
type encoder struct {
	w   kv.Writer
	t   *Table
	val []byte
	// shells are the messages inline values are copied into (see
	// inlineValue), one per message type, reused from object to object.
	shells []protoreflect.Message
}

// object writes the pairs of m, stored at key with layout n. The object's
// own key is always written (an empty value when it has no inline fields),
// so an empty object exists.
func (e *encoder) object(key []byte, n *schema.Node, m protoreflect.Message) error {
	var err error
	if e.val, err = e.inlineValue(e.val[:0], n, m); err != nil {
		return invalid("%s: %v", clip(e.t.render(key)), err)
	}
	if err := set(e.w, e.t, key, e.val); err != nil {
		return err
	}
	if len(n.Children) == 0 {
		return nil
	}
	fields := m.Descriptor().Fields()
	for _, f := range n.Children {
		fd := fields.ByNumber(f.Number())
		if fd == nil || !m.Has(fd) {
			continue
		}
		parent := key
		if f.Apart {
			parent = e.t.apartKey(f, key)
		}
		if err := e.child(parent, f, fd, m.Get(fd)); err != nil {
			return err
		}
	}
	return nil
}

// shell returns an empty message of m's type, to copy an inline value into
// and clear after use.
func (e *encoder) shell(m protoreflect.Message) protoreflect.Message {
	mt := m.Type()
	for _, s := range e.shells {
		if s.Type() == mt {
			return s
		}
	}
	s := m.New()
	e.shells = append(e.shells, s)
	return s
}

// child writes one non-inline field of the object stored at parent.
func (e *encoder) child(parent []byte, f *schema.Field, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	base := parent
	switch f.Storage {
	case schema.Breakout:
		key := f.AppendElem(base)
		var err error
		if e.val, err = appendField(e.val[:0], fd, v); err != nil {
			return invalid("%s: %v", clip(e.t.render(key)), err)
		}
		return set(e.w, e.t, key, e.val)
	case schema.Object:
		return e.object(f.AppendElem(base), f.Child, v.Message())
	case schema.Map:
		var err error
		v.Map().Range(func(mk protoreflect.MapKey, mv protoreflect.Value) bool {
			if err = checkUTF8(f.MapKey, mk.Value()); err != nil {
				err = invalid("%s: map key: %v", clip(e.t.render(parent)+"."+string(f.Name())), err)
				return false
			}
			err = e.entry(f.Key.Append(base, mk.Value()), f, fd.MapValue(), mv)
			return err == nil
		})
		return err
	}
	return nil
}

// entry writes one map entry at key.
func (e *encoder) entry(key []byte, f *schema.Field, vfd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if f.Child != nil {
		return e.object(key, f.Child, v.Message())
	}
	if err := checkUTF8(vfd, v); err != nil {
		return invalid("%s: value: %v", clip(e.t.render(key)), err)
	}
	e.val = appendScalar(e.val[:0], 2, vfd, v)
	return set(e.w, e.t, key, e.val)
}

// inlineValue appends the encoding of m's inline fields. Key columns of a
// row, fields stored under their own keys and join fields are left out.
// Extensions and unknown fields are kept: they are part of the object's
// value and read back with it (checkUnknown refuses the unknown fields the
// read path could not). The inline fields are copied into an empty message
// of m's type (e.shell), which is cleared again before returning.
func (e *encoder) inlineValue(b []byte, n *schema.Node, m protoreflect.Message) ([]byte, error) {
	if allInline(n) {
		return ownValue(b, n, m)
	}
	if err := checkUnknown(n, m.GetUnknown()); err != nil {
		return nil, err
	}
	if p := planOf(&e.t.db.plans, n); p != nil && m.Descriptor() == n.Desc {
		return e.planned(b, p, m) // the plan's descriptors are m's own
	}
	return e.shellValue(b, n, m)
}

// shellValue is inlineValue by a copy of the inline fields into a shell
// message, marshalled whole; the unknown fields are checked.
func (e *encoder) shellValue(b []byte, n *schema.Node, m protoreflect.Message) ([]byte, error) {
	sh := e.shell(m)
	defer proto.Reset(sh.Interface()) // it refers to m's values until then
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f := n.Field(fd.Number()); fd.IsExtension() || (f != nil && f.Storage == schema.Inline) {
			sh.Set(fd, v)
		}
		return true
	})
	if holdsMessages(n) {
		if err := checkMessageUnknown(sh); err != nil {
			return nil, err
		}
	}
	if u := m.GetUnknown(); len(u) > 0 {
		sh.SetUnknown(u)
	}
	return marshal.MarshalAppend(b, sh.Interface())
}

// inlinePlan is how the encoder writes the inline fields of a node straight
// from the message: what proto.Marshal (deterministic) would write for a
// message holding only them. Marshal writes a message's extensions first,
// then its fields in field-number order except that the members of oneofs
// come after the other fields, grouped by oneof in the order the oneofs are
// declared ("to preserve compatibility with historic wire output": the
// generated code's fast path and the reflective path that dynamic messages
// take, with its legacy field order, alike), then its
// unknown fields, each field on its own. So the plan writes the inline
// fields in that order, then the unknown fields.
type inlinePlan struct {
	fields []protoreflect.FieldDescriptor // the inline fields, by number
	scalar []bool                         // singular scalar: encoded here
}

// planOf returns n's inline plan, or nil when n's value cannot be written
// field by field: a message with extensions (Marshal writes them first, in
// its own order).
//
// plans caches the plans by node (*schema.Node to *inlinePlan; a nil plan
// for a node that needs the shell); each DB has its own (DB.plans), so the
// cache lives as long as the nodes it holds.
func planOf(plans *sync.Map, n *schema.Node) *inlinePlan {
	if p, ok := plans.Load(n); ok {
		return p.(*inlinePlan)
	}
	p := &inlinePlan{}
	if n.Desc.ExtensionRanges().Len() > 0 {
		p = nil
	}
	for _, f := range n.Inline {
		if p == nil {
			break
		}
		p.fields = append(p.fields, f.Desc)
	}
	if p != nil {
		slices.SortFunc(p.fields, func(a, b protoreflect.FieldDescriptor) int {
			if c := cmp.Compare(oneofRank(a), oneofRank(b)); c != 0 {
				return c // oneof members last, by oneof
			}
			return cmp.Compare(a.Number(), b.Number())
		})
		for _, fd := range p.fields {
			p.scalar = append(p.scalar, !fd.IsList() && !fd.IsMap() && fd.Message() == nil)
		}
	}
	plans.Store(n, p)
	return p
}

// oneofRank is 0 for a field outside any (non-synthetic) oneof and 1 + the
// oneof's declaration index for a member of one: Marshal's legacy field
// order.
func oneofRank(fd protoreflect.FieldDescriptor) int {
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return 1 + od.Index()
	}
	return 0
}

// planned appends the encoding of m's inline fields by plan p: a singular
// scalar by appendScalar, any other field by marshalling a shell holding it
// alone. Then m's unknown fields, which the caller checked.
func (e *encoder) planned(b []byte, p *inlinePlan, m protoreflect.Message) ([]byte, error) {
	var sh protoreflect.Message
	for i, fd := range p.fields {
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		if p.scalar[i] {
			if err := checkUTF8(fd, v); err != nil {
				return nil, err
			}
			b = appendScalar(b, fd.Number(), fd, v)
			continue
		}
		if err := checkNested(fd, v); err != nil {
			return nil, err
		}
		if sh == nil {
			sh = e.shell(m)
		}
		sh.Set(fd, v)
		var err error
		b, err = marshal.MarshalAppend(b, sh.Interface())
		sh.Clear(fd)
		if err != nil {
			return nil, err
		}
	}
	return append(b, m.GetUnknown()...), nil
}

// ownValue appends the encoding of m, which must hold nothing but fields
// that n stores inline (and extensions and unknown fields): the value of an
// object whose fields are all inline, or a message read from an object's
// value and changed only in its inline fields.
func ownValue(b []byte, n *schema.Node, m protoreflect.Message) ([]byte, error) {
	if err := checkUnknown(n, m.GetUnknown()); err != nil {
		return nil, err
	}
	if holdsMessages(n) {
		if err := checkMessageUnknown(m); err != nil {
			return nil, err
		}
	}
	return marshal.MarshalAppend(b, m.Interface())
}

// holdsMessages reports whether n's value can hold messages (inline message
// fields or extensions), whose unknown fields checkMessageUnknown must walk;
// the values of other nodes are checked by checkUnknown alone.
func holdsMessages(n *schema.Node) bool {
	if n.Desc.ExtensionRanges().Len() > 0 {
		return true
	}
	for _, f := range n.Inline {
		if f.Desc.Message() != nil {
			return true
		}
	}
	return false
}

// allInline reports whether every field of n is in its value.
func allInline(n *schema.Node) bool {
	return len(n.Inline) == len(n.Fields)
}

// appendField appends the encoding of one field with its tag: the value of a
// breakout field. It refuses what the read path would not parse back.
func appendField(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	if fd.Message() == nil {
		if err := checkUTF8(fd, v); err != nil {
			return nil, err
		}
		return appendScalar(b, fd.Number(), fd, v), nil
	}
	if err := checkMessageUnknown(v.Message()); err != nil {
		return nil, err
	}
	b = protowire.AppendTag(b, fd.Number(), protowire.BytesType)
	msg, err := marshal.Marshal(v.Message().Interface())
	if err != nil {
		return nil, err
	}
	return protowire.AppendBytes(b, msg), nil
}
