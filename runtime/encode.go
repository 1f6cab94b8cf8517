package runtime

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

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
	// plans holds the inline plans this encoder has looked up (planOf),
	// so that the objects of one write after the first of their node do
	// not search the DB's cache again.
	plans [4]nodePlan
	// iter and skey read the entries of Go maps (goEntries); they come
	// with the pooled writeBatch when there is one.
	iter *reflect.MapIter
	skey reflect.Value
}

// nodePlan is a node and its inline plan (nil: the node has none).
type nodePlan struct {
	n *schema.Node
	p *inlinePlan
}

// plan returns planOf(n) from e.plans, or from the DB's cache (and then
// remembers it while e.plans has room).
func (e *encoder) plan(n *schema.Node) *inlinePlan {
	for i := range e.plans {
		switch e.plans[i].n {
		case n:
			return e.plans[i].p
		case nil:
			p := planOf(&e.t.db.plans, n)
			e.plans[i] = nodePlan{n, p}
			return p
		}
	}
	return planOf(&e.t.db.plans, n)
}

// object writes the pairs of m, stored at key with layout n. The object's
// own key is always written (an empty value when it has no inline fields),
// so an empty object exists.
//
// mi is m's Go message when the caller holds it, else nil: m.Interface()
// of a generated message goes through reflect.NewAt (a lookup in a global
// cache of pointer types), which the struct reads (goPlan, goInline) would
// otherwise pay once per object.
func (e *encoder) object(key []byte, n *schema.Node, m protoreflect.Message, mi protoreflect.ProtoMessage) error {
	own := m.Descriptor() == n.Desc // then the layout's descriptors are m's own
	var pv reflect.Value            // m's Go value, when its struct may be read
	// Only for an object with children (goPlan's reads, then goInline's
	// too). One without is either all inline, marshalled whole (ownValue:
	// no struct read), or holds a join field or a row's key columns beside
	// its inline fields (planned). For such a map value, ThreadRef (one
	// inline scalar), the struct read was no clear cut: its entry Put, mi
	// held, 1,917 → 1,983 instructions with goMessage and structOf, a row
	// of 10 of them 27,048 → 26,985 (bench/README.md, "Findings", branch
	// small24), so the condition stays.
	if own && goRead.Load() && len(n.Children) > 0 {
		pv = goMessage(m, mi) // goplan.go
	}
	return e.objectAt(key, n, m, own, pv)
}

// objectAt is object once m's descriptor (own) and Go value (pv) are
// known: goEntries knows them for a whole map, not per entry.
func (e *encoder) objectAt(key []byte, n *schema.Node, m protoreflect.Message, own bool, pv reflect.Value) error {
	var err error
	if e.val, err = e.inlineValue(e.val[:0], n, m, own, pv); err != nil {
		return invalid("%s: %v", clip(e.t.render(key)), err)
	}
	if err := set(e.w, e.t, key, e.val); err != nil {
		return err
	}
	if len(n.Children) == 0 {
		return nil
	}
	var gp *goPlan
	var sv reflect.Value
	if pv.IsValid() {
		if p := e.plan(n); p != nil {
			gp = goPlanOf(&p.gp, n, pv.Type())
		}
		if gp != nil {
			if pv.IsNil() {
				gp = nil // a nil message: protoreflect reads it as empty
			} else {
				sv = pv.Elem()
			}
		}
	}
	var md protoreflect.MessageDescriptor
	if !own {
		md = m.Descriptor()
	}
	for i, f := range n.Children {
		fd := f.Desc
		if !own {
			if fd = md.Fields().ByNumber(f.Number()); fd == nil {
				continue
			}
		}
		var v protoreflect.Value
		var has, read bool
		if gp != nil {
			v, has, read = gp.present(sv, i, m, fd)
		}
		if !read {
			v, has = present(m, fd)
		}
		if !has {
			continue
		}
		parent := key
		if f.Apart {
			parent = e.t.apartKey(f, key)
		}
		var err error
		if gp != nil && gp.fields[i].kind == goMsgMap {
			err = e.goEntries(parent, f, sv.Field(gp.fields[i].idx), gp.fields[i].own)
		} else {
			err = e.child(parent, f, fd, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// goRead turns the encoder's reads of generated structs (goPlan) on, the
// default; tests turn it off to compare the encoder's output with and
// without it.
var goRead atomic.Bool

func init() { goRead.Store(true) }

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
		return e.object(f.AppendElem(base), f.Child, v.Message(), nil)
	case schema.Map:
		var err error
		vfd := f.MapValue
		if fd != f.Desc {
			vfd = fd.MapValue()
		}
		v.Map().Range(func(mk protoreflect.MapKey, mv protoreflect.Value) bool {
			err = e.mapEntry(parent, f, vfd, mk.Value(), mv)
			return err == nil
		})
		return err
	}
	return nil
}

// mapEntry writes the entry of map f with key k and value v, the map being
// stored under parent.
func (e *encoder) mapEntry(parent []byte, f *schema.Field, vfd protoreflect.FieldDescriptor, k, v protoreflect.Value) error {
	if err := checkKeyUTF8(f.Key, k); err != nil { // f.Key's field is f.MapKey
		return invalid("%s: map key: %v", clip(e.t.render(parent)+"."+string(f.Name())), err)
	}
	return e.entry(f.Key.Append(parent, k), f, vfd, v)
}

// entry writes one map entry at key.
func (e *encoder) entry(key []byte, f *schema.Field, vfd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if f.Child != nil {
		return e.object(key, f.Child, v.Message(), nil)
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
// of m's type (e.shell), which is cleared again before returning. own says
// m's descriptor is n's (object has asked); pv is m's Go value when its
// struct may be read, else the zero Value.
func (e *encoder) inlineValue(b []byte, n *schema.Node, m protoreflect.Message, own bool, pv reflect.Value) ([]byte, error) {
	if allInline(n) {
		return ownValue(b, n, m)
	}
	unknown := m.GetUnknown()
	if err := checkUnknown(n, unknown); err != nil {
		return nil, err
	}
	if p := e.plan(n); p != nil && own {
		return e.planned(b, p, m, pv, unknown) // the plan's descriptors are m's own
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
	kinds  []inlineKind                   // how each is encoded
	// utf8 says which fields' strings must be valid UTF-8
	// (schema.EnforceUTF8, worked out once here rather than per value).
	utf8 []bool
	// gp is the node's goPlan for the Go type last written.
	gp atomic.Pointer[goPlan]
	// gi is the plan's struct reads for the Go type last written.
	gi atomic.Pointer[goInline]
}

// inlineKind is how the plan writes one inline field.
type inlineKind uint8

const (
	// inlineShell: marshalled from a shell holding it alone (lists, maps,
	// groups).
	inlineShell inlineKind = iota
	// inlineScalar: a singular scalar with presence (proto2 optional,
	// proto3 optional, oneof member), by appendScalar when m.Has it.
	inlineScalar
	// inlineImplicit: a singular scalar without presence, by appendScalar
	// unless its value is one Has reports unset (the zero value; -0.0 is
	// set), read with one Get instead of Has then Get.
	inlineImplicit
	// inlineMessage: a singular message field, as its tag, length and the
	// message marshalled, what Marshal writes for it.
	inlineMessage
)

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
			k := inlineShell
			switch {
			case fd.IsList() || fd.IsMap():
			case fd.Kind() == protoreflect.MessageKind:
				k = inlineMessage
			case fd.Message() != nil: // a group
			case fd.HasPresence():
				k = inlineScalar
			default:
				k = inlineImplicit
			}
			p.kinds = append(p.kinds, k)
			p.utf8 = append(p.utf8, schema.EnforceUTF8(fd))
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
// scalar by appendScalar, a singular message as Marshal writes it, any other
// field by marshalling a shell holding it alone. Then m's unknown fields,
// which the caller read and checked.
func (e *encoder) planned(b []byte, p *inlinePlan, m protoreflect.Message, pv reflect.Value, unknown []byte) ([]byte, error) {
	var sh protoreflect.Message
	base, g := p.structOf(pv) // goinline.go
	for i, fd := range p.fields {
		k := p.kinds[i]
		if g != nil && g.fields[i].kind != 0 {
			var ok bool
			if b, ok = g.fields[i].append(b, base, p.utf8[i]); !ok {
				return nil, utf8Error(fd)
			}
			continue
		}
		var v protoreflect.Value
		var ok bool
		switch k { // present, knowing fd's kind from the plan
		case inlineImplicit:
			v = m.Get(fd)
			ok = implicitSet(fd, v)
		case inlineScalar:
			if ok = m.Has(fd); ok {
				v = m.Get(fd)
			}
		default:
			v, ok = present(m, fd)
		}
		if !ok {
			continue
		}
		switch k {
		case inlineScalar, inlineImplicit:
			if p.utf8[i] && !validUTF8String(v.String()) { // checkUTF8
				return nil, utf8Error(fd)
			}
			b = appendScalar(b, fd.Number(), fd, v)
			continue
		}
		if err := checkNested(fd, v); err != nil {
			return nil, err
		}
		var err error
		if k == inlineMessage {
			if b, err = appendMessage(b, fd.Number(), v.Message()); err != nil {
				return nil, err
			}
			continue
		}
		if sh == nil {
			sh = e.shell(m)
		}
		sh.Set(fd, v)
		b, err = marshal.MarshalAppend(b, sh.Interface())
		sh.Clear(fd)
		if err != nil {
			return nil, err
		}
	}
	return append(b, unknown...), nil
}

// present returns the value of field fd of m and whether m.Has(fd). A
// scalar without presence is read once (Get, and implicitSet says whether
// it is set); any other field is tested by Has and read only when set (Get
// of an empty map or a nil message allocates its empty value).
func present(m protoreflect.Message, fd protoreflect.FieldDescriptor) (protoreflect.Value, bool) {
	if !fd.HasPresence() && !fd.IsList() && !fd.IsMap() && fd.Message() == nil && !fd.IsExtension() {
		v := m.Get(fd)
		return v, implicitSet(fd, v)
	}
	if !m.Has(fd) {
		return protoreflect.Value{}, false
	}
	return m.Get(fd), true
}

// implicitSet reports whether v, the value of fd, a singular scalar field
// without presence, is one that m.Has(fd) reports set and Marshal writes:
// not the zero value of its kind, where -0.0 is not zero (it has a bit set).
func implicitSet(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	return implicitKindSet(fd.Kind(), v)
}

// implicitKindSet is implicitSet of a field of kind k.
func implicitKindSet(k protoreflect.Kind, v protoreflect.Value) bool {
	switch k {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.EnumKind:
		return v.Enum() != 0
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return v.Int() != 0
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return v.Uint() != 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return math.Float64bits(v.Float()) != 0
	case protoreflect.StringKind:
		return len(v.String()) > 0
	case protoreflect.BytesKind:
		return len(v.Bytes()) > 0
	}
	return true
}

// appendMessage appends sub as field num of message type: its tag, its
// length and its deterministic encoding, which is what Marshal writes for a
// singular message field. The encoding is appended after a one-byte length,
// moved when the length needs more.
func appendMessage(b []byte, num protowire.Number, sub protoreflect.Message) ([]byte, error) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	at := len(b)
	b, err := marshal.MarshalAppend(append(b, 0), sub.Interface())
	if err != nil {
		return nil, err
	}
	n := len(b) - at - 1
	w := protowire.SizeVarint(uint64(n))
	if w > 1 {
		b = append(b, make([]byte, w-1)...)
		copy(b[at+w:], b[at+1:at+1+n])
	}
	protowire.AppendVarint(b[at:at], uint64(n))
	return b, nil
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
