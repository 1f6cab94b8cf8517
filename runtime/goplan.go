package runtime

import (
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoimpl"
)

// goPlan is how the encoder reads the fields of a node stored under their
// own keys (schema.Node.Children) straight from a generated message's Go
// struct instead of through protoreflect, whose Has of a map or message
// field goes through reflect.NewAt (a lookup in a global cache of pointer
// types) and whose map Range allocates every string key it hands over.
// Only the fields of the open struct API are read this way: a map field
// (Has is its length, not 0) and a singular message field outside any
// oneof (Has is a non-nil pointer), found by their protobuf struct tags.
// Any other field, and any message that is not of the plan's Go type, is
// read through protoreflect as before.
type goPlan struct {
	t      reflect.Type // the message's Go type: a pointer to a struct
	fields []goField    // per child of the node, in n.Children's order
}

// goField is how one child field is read from the struct.
type goField struct {
	idx  int // the struct field's index; -1: through protoreflect
	kind goKind
	// own says, for a goMsgMap, that the map's values are messages whose
	// struct their reflection reads (ownStruct, as goMessage asks of
	// one message): goEntries then hands each value's struct down to
	// objectAt without asking goMessage per entry.
	own bool
}

type goKind uint8

const (
	goNone goKind = iota
	// goMsg: a singular message field, a pointer to a generated struct.
	goMsg
	// goMap: a map field, read by Get when it is not empty.
	goMap
	// goMsgMap: a map of Go string keys to generated messages, whose
	// entries goEntries reads from the Go map.
	goMsgMap
)

var protoMessageType = reflect.TypeFor[protoreflect.ProtoMessage]()

// goPlanOf returns the plan of node n for Go type t, a message of n's own
// descriptor, from p's cache when it was made for t, or nil when t is not
// a pointer to a struct.
func goPlanOf(p *atomic.Pointer[goPlan], n *schema.Node, t reflect.Type) *goPlan {
	if gp := p.Load(); gp != nil && gp.t == t {
		return gp
	}
	gp := buildGoPlan(n, t)
	if gp != nil {
		p.Store(gp)
	}
	return gp
}

// buildGoPlan makes the plan of node n for Go type t, or returns nil when
// t is not a pointer to a struct. Only a struct protoc-gen-go generated
// (it holds a protoimpl.MessageState), whose fields are what its
// ProtoReflect reads and writes, has fields read from it; the plan of any
// other struct reads every field through protoreflect.
func buildGoPlan(n *schema.Node, t reflect.Type) *goPlan {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	st := t.Elem()
	gp := &goPlan{t: t, fields: make([]goField, len(n.Children))}
	if !generatedStruct(st) {
		return gp // every field goNone
	}
	for i, f := range n.Children {
		gp.fields[i] = goFieldOf(st, f)
	}
	return gp
}

// goMessage returns m's Go message as a reflect.Value when its struct may
// be read (goPlan, goInline), else the zero Value. mi is m's Go message
// when the caller holds it (nil: m.Interface()). Its struct is read only
// when it is the one m's reflection reads: m's message type is
// protobuf-go's MessageInfo of mi's Go type, as for every message
// protoc-gen-go generates. A value of any other type, such as a
// hand-built one whose ProtoReflect hands out another message's
// reflection, or a dynamic message, is read through protoreflect.
func goMessage(m protoreflect.Message, mi protoreflect.ProtoMessage) reflect.Value {
	if mi == nil {
		mi = m.Interface()
	}
	if !ownStruct(m.Type(), reflect.TypeOf(mi)) { // rowplan.go
		return reflect.Value{}
	}
	return reflect.ValueOf(mi)
}

var messageStateType = reflect.TypeFor[protoimpl.MessageState]()

// generatedStruct reports whether st is a message struct of protoc-gen-go:
// one holding a protoimpl.MessageState.
func generatedStruct(st reflect.Type) bool {
	for i := range st.NumField() {
		if st.Field(i).Type == messageStateType {
			return true
		}
	}
	return false
}

// goFieldOf finds the struct field of st holding f by its protobuf tag
// (field number and name), and says how to read it.
func goFieldOf(st reflect.Type, f *schema.Field) goField {
	fd := f.Desc
	none := goField{idx: -1, kind: goNone}
	if fd.IsExtension() || fd.IsList() || fd.ContainingOneof() != nil {
		return none
	}
	for i := range st.NumField() {
		sf := st.Field(i)
		if strings.HasPrefix(sf.Name, "xxx_") || strings.HasPrefix(sf.Name, "XXX_") || !sf.IsExported() {
			// The opaque API's hidden fields, internal state, and any
			// unexported field: reflect refuses to hand out what those
			// hold (Interface, SetIterKey panic).
			continue
		}
		num, name, ok := parseProtoTag(sf.Tag.Get("protobuf"))
		if !ok || num != fd.Number() || name != string(fd.Name()) {
			continue
		}
		switch {
		case fd.IsMap() && sf.Type.Kind() == reflect.Map:
			if own, ok := msgMap(sf.Type, f); ok {
				return goField{idx: i, kind: goMsgMap, own: own}
			}
			return goField{idx: i, kind: goMap}
		case !fd.IsMap() && fd.Message() != nil && sf.Type.Kind() == reflect.Pointer && sf.Type.Implements(protoMessageType):
			return goField{idx: i, kind: goMsg}
		}
		return none
	}
	return none
}

// msgMap reports whether a map field of Go type mt, holding f, has Go
// string keys and values of the generated message type of f's entries
// (the layout's own descriptor), which goEntries reads; and own, whether
// the values' Go type is the one their message type reads (ownStruct).
func msgMap(mt reflect.Type, f *schema.Field) (own, ok bool) {
	fd := f.Desc
	if f.Child == nil || fd.MapKey().Kind() != protoreflect.StringKind || mt.Key() != reflect.TypeFor[string]() {
		return false, false
	}
	vt := mt.Elem()
	if vt.Kind() != reflect.Pointer || !vt.Implements(protoMessageType) {
		return false, false
	}
	// The type's descriptor, from a nil pointer of it: no map value is
	// looked at here. A generated message answers ProtoReflect on a nil
	// pointer (a read-only empty message), and protobuf-go asks the same
	// of a map's value type when it builds the holding message's
	// MessageInfo. A nil value in the map is read, by goEntries as by
	// protoreflect, as an empty message, as Marshal writes it.
	mr := reflect.Zero(vt).Interface().(protoreflect.ProtoMessage).ProtoReflect()
	if mr.Descriptor() != f.Child.Desc {
		return false, false
	}
	return ownStruct(mr.Type(), vt), true
}

// parseProtoTag returns the field number and name of a protobuf struct
// tag ("bytes,6,rep,name=sessions,proto3").
func parseProtoTag(tag string) (protoreflect.FieldNumber, string, bool) {
	parts := strings.Split(tag, ",")
	if len(parts) < 3 {
		return 0, "", false
	}
	num, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, "", false
	}
	for _, p := range parts[2:] {
		if name, ok := strings.CutPrefix(p, "name="); ok {
			return protoreflect.FieldNumber(num), name, true
		}
	}
	return 0, "", false
}

// goPresent is present for child i of the plan's node, read from sv, the
// struct of m: the field's value and whether m.Has it. ok is false when
// the plan does not read the field (the caller then calls present).
func (gp *goPlan) present(sv reflect.Value, i int, m protoreflect.Message, fd protoreflect.FieldDescriptor) (v protoreflect.Value, has, ok bool) {
	gf := gp.fields[i]
	switch gf.kind {
	case goMsg:
		fv := sv.Field(gf.idx)
		if fv.IsNil() {
			return protoreflect.Value{}, false, true
		}
		return protoreflect.ValueOfMessage(fv.Interface().(protoreflect.ProtoMessage).ProtoReflect()), true, true
	case goMap, goMsgMap:
		if sv.Field(gf.idx).Len() == 0 {
			return protoreflect.Value{}, false, true
		}
		if gf.kind == goMsgMap {
			return protoreflect.Value{}, true, true // goEntries reads it
		}
		return m.Get(fd), true, true
	}
	return protoreflect.Value{}, false, false
}

// goEntries writes the entries of mv, a map of Go string keys to generated
// messages (goMsgMap), as the Map case of child writes them: the same
// checks and pairs, without an allocation per key. own is the goField's:
// the values' structs may be read, so each entry's object is written with
// its Go value (objectAt) as object would find it by goMessage.
func (e *encoder) goEntries(parent []byte, f *schema.Field, mv reflect.Value, own bool) error {
	// The iterator is this loop's until it ends: an entry's message may
	// hold a map read this way too (goEntries inside goEntries), which
	// then takes an iterator of its own.
	it := e.iter
	if it == nil {
		it = new(reflect.MapIter)
	}
	e.iter = nil
	it.Reset(mv)
	defer func() {
		it.Reset(reflect.Value{}) // the pooled iterator keeps no map
		e.iter = it
	}()
	if !e.skey.IsValid() {
		e.skey = reflect.New(reflect.TypeFor[string]()).Elem()
	}
	defer e.skey.SetString("") // nor a key
	// object reads an entry's struct only when its node has children
	// (see there); msgMap checked that the values' descriptor is the
	// node's, so object's own holds for every entry.
	read := own && len(f.Child.Children) > 0
	for it.Next() {
		e.skey.SetIterKey(it)
		k := protoreflect.ValueOfString(e.skey.String())
		if err := checkKeyUTF8(f.Key, k); err != nil { // as mapEntry
			return invalid("%s: map key: %v", clip(e.t.render(parent)+"."+string(f.Name())), err)
		}
		key := f.Key.Append(parent, k)
		ev := it.Value()
		mi := ev.Interface().(protoreflect.ProtoMessage)
		var err error
		if read {
			err = e.objectAt(key, f.Child, mi.ProtoReflect(), true, ev)
		} else {
			err = e.object(key, f.Child, mi.ProtoReflect(), mi)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
